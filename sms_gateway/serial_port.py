"""The modem's serial device, read by the event loop: bytes in, bytes out, nothing more.

python-gsmmodem's serial layer is replaced: it blocks in threads (reading
byte by byte) and forces RTS/CTS flow control on, which many modems want off.
Here the port is opened with pyserial in a worker thread, with
``flow_control`` as configured, and read and written by the event loop on
pyserial's non-blocking descriptor: a write goes straight to the device, and
waits for the loop's writer callback only when the device's buffer is full.
(A worker thread per write, as pyserial's blocking write would need, cost
more than the AT round trip itself: four handoffs per text, ~0.8 ms each on a
busy loop - issue 14 item 6.)
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
        self._fd: int = device.fileno()  # -1 once reading stopped
        self._out: int = self._fd  # -1 once closed
        self._write_timeout: float = device.write_timeout or 5.0
        self._writing = asyncio.Lock()  # a write waiting for room keeps its place in line
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
        """All of ``data`` handed to the device. pyserial opened it non-blocking:
        what the device cannot take now waits for it to be writable, at most
        the port's write timeout (pyserial's own, 5 s) for each wait."""
        pending = memoryview(data)
        async with self._writing:
            await self._write_all(pending)

    async def _write_all(self, pending: memoryview) -> None:
        try:
            while pending:
                if self._out < 0:
                    raise ModemLost("write failed: the port is closed")
                try:
                    written = os.write(self._out, pending)
                except (BlockingIOError, InterruptedError):
                    await self._writable()
                    continue
                pending = pending[written:]
        except OSError as exc:
            raise ModemLost(f"write failed: {exc.strerror or exc}") from None

    async def _writable(self) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        fd = self._out
        loop.add_writer(fd, _settle, ready)
        try:
            async with asyncio.timeout(self._write_timeout):
                await ready
        except TimeoutError:
            raise ModemLost("write failed: write timeout") from None
        finally:
            loop.remove_writer(fd)

    async def close(self) -> None:
        self._stop_reading()
        self._out = -1
        await asyncio.to_thread(self._device.close)


def _settle(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


def _short(exc: BaseException) -> str:
    """What the OS said, without pyserial's "[Errno n] could not open port ...: " before it."""
    text = str(exc)
    return text.split(": ", 1)[-1] if "[Errno" in text else text
