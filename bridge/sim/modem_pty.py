"""The simulated modem on a pseudo-terminal: a :class:`ModemEngine` behind a
pty whose slave path a transport opens like ``/dev/ttyUSB0``, unplugged and
replugged on cue, with the engine's delayed confirmations written on time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from pathlib import Path

from bridge.sim.modem import ModemEngine


class SimulatedModem:
    """A :class:`ModemEngine` on a pty. ``path`` is a stable symlink to the pty's
    slave, as udev gives a USB modem a stable name; unplugging removes it."""

    def __init__(self, path: Path, engine: ModemEngine | None = None):
        self.path = path
        self.engine = engine or ModemEngine()
        self._master: int | None = None
        self._slave: int | None = None
        self._confirming: asyncio.TimerHandle | None = None  # engine.confirm_delay's timer

    async def start(self) -> SimulatedModem:
        master, slave = os.openpty()
        try:
            self._make_room_for_link(os.ttyname(slave))
        except OSError:
            os.close(master)
            os.close(slave)
            raise
        tty.setraw(slave)  # no line discipline: Ctrl-Z and CR pass through untouched
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        asyncio.get_running_loop().add_reader(master, self._readable)
        self.path.symlink_to(os.ttyname(slave))
        boot = self.engine.power_on()
        if boot:
            os.write(master, boot)  # waits in the pty until the port is opened
        return self

    def _make_room_for_link(self, pty: str) -> None:
        """Only a simulator's own link (a symlink into the pty folder, maybe left by
        an earlier run) is replaced: anything else at ``path`` is someone's file.
        Raises FileNotFoundError or FileExistsError saying why not."""
        folder = self.path.parent
        if not folder.is_dir():
            raise FileNotFoundError(f"the folder {folder} does not exist: create it first")
        if not self.path.is_symlink():
            if self.path.exists():
                raise FileExistsError(f"{self.path} exists and is not a modem link: not replaced")
            return
        target = Path(os.readlink(self.path))
        if target.parent != Path(pty).parent:
            raise FileExistsError(f"{self.path} links to {target}, not to a pty: not replaced")
        self.path.unlink()

    async def stop(self) -> None:
        self.unplug()

    async def __aenter__(self) -> SimulatedModem:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def unplug(self) -> None:
        """The USB cable is pulled: the device node goes away, reads fail. The link
        goes only while it still points to this pty: another may own the path now."""
        ours = os.ttyname(self._slave) if self._slave is not None else None
        if self._confirming is not None:  # the power is gone: no confirmation comes
            self._confirming.cancel()
            self._confirming = None
            self.engine.drop_confirmation()
        if self._master is not None:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            self._master = None
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None
        with contextlib.suppress(OSError):  # gone already, or not a link
            if ours is not None and os.readlink(self.path) == ours:
                self.path.unlink()

    async def replug(self) -> None:
        """Back again: a fresh modem (echo on, PIN asked again), same SIM store."""
        self.unplug()
        self.engine.echo = True
        self.engine._pin_ok = self.engine.pin is None
        await self.start()

    def send_raw(self, data: bytes) -> None:
        """Unsolicited bytes from the modem: notifications, or garbage."""
        if self._master is not None:
            os.write(self._master, data)

    def receive(self, sender: str, text: str, *, concat_ref: int = 0) -> None:
        """An incoming text arrives; the modem announces it with ``+CMTI``."""
        self.send_raw(self.engine.receive(sender, text, concat_ref=concat_ref))

    def status_report(self, reference: int, number: str, *, delivered: bool = True) -> None:
        self.send_raw(self.engine.status_report(reference, number, delivered=delivered))

    def _readable(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # EIO: nobody has the port open right now
        self._write(self.engine.feed(data))

    def _write(self, reply: bytes) -> None:
        """The modem's answer onto the line, and the confirmation it now owes
        scheduled ``confirm_delay`` seconds on."""
        if reply and self._master is not None:
            # Written even when the DTE has closed the port (the bridge was killed:
            # the modem finishes its send all the same). This simulator holds the
            # pty's slave open, so the bytes wait for the next opener - though
            # pyserial flushes its input when it opens a port. Real USB-serial
            # drivers may likewise discard what arrives while the port is closed,
            # or keep it: the transport must cope with both.
            with contextlib.suppress(BlockingIOError):
                os.write(self._master, reply)
        if self.engine.owed_confirmation is not None and self._confirming is None:
            loop = asyncio.get_running_loop()
            self._confirming = loop.call_later(self.engine.confirm_delay, self._confirm)

    def _confirm(self) -> None:
        self._confirming = None
        self._write(self.engine.confirm())
