"""The simulated modem's confirmation delay over its pty: a busy modem
answers in order, and finishes a send after the port was closed."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from bridge.sim.modem import ModemEngine
from bridge.sim.modem_pty import SimulatedModem
from tests.support.pdu import submit_pdu
from tests.support.polling import until


class Port:
    """The DTE's end of the simulated modem's pty, opened as a transport would."""

    def __init__(self, path: Path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.seen = bytearray()

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    async def read_until(self, wanted: bytes, within: float = 5.0) -> bytes:
        def arrived() -> bool:
            with contextlib.suppress(BlockingIOError):
                self.seen += os.read(self.fd, 4096)
            return wanted in self.seen

        await until(arrived, within)
        return bytes(self.seen)

    def close(self) -> None:
        os.close(self.fd)


async def test_over_the_pty_the_confirmation_comes_after_the_delay(tmp_path: Path) -> None:
    engine = ModemEngine(echo=False, confirm_delay=0.3)
    async with SimulatedModem(tmp_path / "ttyUSB0", engine) as sim:
        port = Port(sim.path)
        length, pdu_hex = submit_pdu()
        port.write(f"AT+CMGW={length}\r".encode())
        await port.read_until(b"> ")
        port.write(pdu_hex.encode() + b"\x1a")
        await port.read_until(b"+CMGW: 1\r\n\r\nOK\r\n")
        port.seen.clear()
        port.write(b"AT+CMSS=1\rAT+CMGR=1\r")
        await until(lambda: len(engine.sent) == 1)  # on the air at once
        assert engine.owed_confirmation is not None
        assert port.seen == b""
        seen = await port.read_until(b"OK\r\n\r\n+CMGR")
        await port.read_until(pdu_hex.encode() + b"\r\n\r\nOK\r\n")
        assert seen.startswith(b"\r\n+CMSS: 1\r\n\r\nOK\r\n\r\n+CMGR: 3,,")  # in order
        port.close()


async def test_the_confirmation_is_written_after_the_port_closed(tmp_path: Path) -> None:
    """The bridge is killed mid-send: the modem still finishes, and its answer waits
    in the pty for the next opener. Unplugged instead, no confirmation ever comes."""
    engine = ModemEngine(echo=False, confirm_delay=0.2)
    async with SimulatedModem(tmp_path / "ttyUSB0", engine) as sim:
        port = Port(sim.path)
        length, pdu_hex = submit_pdu()
        port.write(f"AT+CMGS={length}\r".encode())
        await port.read_until(b"> ")
        port.write(pdu_hex.encode() + b"\x1a")
        await until(lambda: engine.owed_confirmation is not None)
        port.close()
        await until(lambda: engine.owed_confirmation is None)
        port = Port(sim.path)
        assert (await port.read_until(b"+CMGS: 1\r\n\r\nOK\r\n")).endswith(b"OK\r\n")
        port.write(f"AT+CMGS={length}\r".encode())
        await port.read_until(b"> ", within=5)
        port.write(pdu_hex.encode() + b"\x1a")
        await until(lambda: engine.owed_confirmation is not None)
        port.close()
        sim.unplug()
        assert engine.owed_confirmation is None
        assert len(engine.sent) == 2
