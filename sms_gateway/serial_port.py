"""The modem's serial device, read by the event loop: bytes in, bytes out, nothing more.

python-gsmmodem's serial layer is replaced: it blocks in threads (reading
byte by byte) and forces RTS/CTS flow control on, which many modems want off.
Here the port is opened with pyserial in a worker thread, with
``flow_control`` as configured, and read with the event loop's reader
callback; writes go through a worker thread too (pyserial's write blocks).
pyserial's and the OS's errors become :class:`ModemLost` here, at the
boundary, with a reason fit for a log line.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import serial

from sms_gateway.settings import ModemSettings


class ModemLost(Exception):
    """The port went away, or the modem stopped answering."""


class SerialPort:
    """A serial device read by the event loop; opened and written in a worker thread."""

    def __init__(
        self, device: Any, on_data: Callable[[bytes], None], on_lost: Callable[[str], None]
    ):
        self._device = device
        self._fd: int = device.fileno()
        self._on_data = on_data
        self._on_lost = on_lost
        asyncio.get_running_loop().add_reader(self._fd, self._readable)

    @classmethod
    async def open(
        cls,
        settings: ModemSettings,
        on_data: Callable[[bytes], None],
        on_lost: Callable[[str], None],
    ) -> SerialPort:
        try:
            device = await asyncio.to_thread(
                serial.Serial,
                str(settings.port),
                settings.baudrate,
                timeout=0,
                write_timeout=5,
                rtscts=settings.flow_control,  # the library forces this on; many modems want it off
                dsrdtr=False,
                exclusive=True,
            )
        except (serial.SerialException, OSError) as exc:
            raise ModemLost(f"cannot open {settings.port}: {_short(exc)}") from None
        return cls(device, on_data, on_lost)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost(f"read failed: {exc.strerror or exc}")
            return
        if not data:
            self._lost("the device closed")
            return
        self._on_data(data)

    def _lost(self, why: str) -> None:
        self._stop_reading()
        self._on_lost(why)

    def _stop_reading(self) -> None:
        if self._fd >= 0:
            asyncio.get_running_loop().remove_reader(self._fd)
            self._fd = -1

    async def write(self, data: bytes) -> None:
        try:
            await asyncio.to_thread(self._device.write, data)
        except (serial.SerialException, OSError, TypeError) as exc:
            # TypeError: pyserial's write on a port closed under it (the fd is gone).
            raise ModemLost(f"write failed: {exc}") from None

    async def close(self) -> None:
        self._stop_reading()
        await asyncio.to_thread(self._device.close)


def _short(exc: BaseException) -> str:
    """What the OS said, without pyserial's "[Errno n] could not open port ...: " before it."""
    text = str(exc)
    return text.split(": ", 1)[-1] if "[Errno" in text else text
