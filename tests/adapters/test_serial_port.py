"""The modem port written from the event loop: a write the device cannot take
at once waits for room and arrives whole, in order; a closed port says so."""

from __future__ import annotations

import asyncio
import os
import tty
from pathlib import Path

import pytest

from sms_gateway.serial_port import ModemLost, SerialPort
from sms_gateway.settings import ModemSettings


def _settings(port: Path) -> ModemSettings:
    return ModemSettings(
        port=port, baudrate=115200, pin=None, smsc=None, send_timeout=5, command_timeout=5,
        texts_per_minute=10, flow_control=False, cnmi="2,1,0,2", delivery_reports=False,
        sweep_seconds=60,
    )  # fmt: skip


async def test_a_write_larger_than_the_device_takes_waits_for_room_and_arrives_whole() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    port = await SerialPort.open(_settings(Path(os.ttyname(slave))), lambda _: None, lambda _: None)
    data = bytes(range(256)) * 1024  # 256 KiB: far more than a pty buffers
    received = bytearray()
    whole = asyncio.Event()

    def readable() -> None:
        received.extend(os.read(master, 65536))
        if len(received) >= len(data):
            whole.set()

    loop = asyncio.get_running_loop()
    try:
        writing = asyncio.create_task(port.write(data))
        await asyncio.sleep(0)  # the write runs until the device is full ...
        assert not writing.done()  # ... and waits there, the loop free
        loop.add_reader(master, readable)
        await asyncio.wait_for(writing, 10)
        await asyncio.wait_for(whole.wait(), 10)
        assert bytes(received) == data
        await port.close()
        with pytest.raises(ModemLost, match="closed"):
            await port.write(b"AT\r")
    finally:
        loop.remove_reader(master)
        os.close(master)
        os.close(slave)
