"""The PBX and the modem of bench/latency.py, in a process of their own.

A real Asterisk runs in its own process (often on its own box) and a real
modem is hardware: neither takes CPU from the bridge. Here the AMI double
(playing the calls) and the simulated modem on a pty run in this child
process, so the bridge under measurement, in the parent, has its process to
itself, as in the field. Both clocks of a latency are read here - the
caller's hang-up written to the AMI socket, and the modem (or Asterisk)
reading the send - with time.monotonic, one clock for the machine.

The parent talks to it in JSON lines, one answer per request, on stdin and
stdout:

    {"do": "session"}                      -> {} once the bridge logged in to AMI
    {"do": "play", "first": N, "count": C} -> {} once C more missed calls were
                                              played and their texts are out
    {"do": "latencies"}                    -> {"ms": [...]} hang-up -> send, each text

Started with its transport (``modem PATH`` or ``sip``), it first prints
{"ami_port": P} once both doubles listen.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

from bridge.ami.framer import AmiFramer
from bridge.sim import callgen
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.modem_pty import SimulatedModem

SECRET = "bench-only"  # noqa: S105 -- a loopback double's own
EPOCH = 1_795_000_000  # the PBX's clock for the calls played (their linkedids)
# How long the calls ring before they ring out: 8 s on a PBX (the dialplan's
# Dial timeout); here long enough for the bridge to have written what rang
# (about 0.4 ms a call on a small box).
RINGING_AT_LEAST = 0.05
RINGING_PER_CALL = 0.002


def missed_calls(pbx: callgen.Pbx, first: int, count: int) -> tuple[bytes, bytes]:
    """``count`` missed calls from distinct callers, side by side: their
    events while they ring, and then as they ring out (the hang-ups)."""
    calls = []
    for n in range(first, first + count):
        pbx.caller = f"+1737555{n:04d}"  # valid numbers: the policy refuses invalid ones
        steps = callgen.no_answer(pbx)
        next(steps)  # dialled: the call's first step takes the caller number
        calls.append(steps)
    for steps in calls:
        next(steps)  # ringing
    ringing = pbx.take()
    for steps in calls:
        next(steps, None)  # rung out: Dial's timeout, and the PBX hangs up
    return ringing, pbx.take()


async def play_batch(
    asterisk: FakeAsterisk, pbx: callgen.Pbx, first: int, count: int, hung_up: dict[str, float]
) -> None:
    """``count`` missed calls at once; each caller's hang-up time noted.

    The calls ring for a moment before they ring out, as calls do
    (Dial's timeout): what the bridge writes of a call in progress is
    written then, not charged to the hang-up. The events go straight to
    the socket (``broadcast_raw``), past the double's bookkeeping of
    channels and call records, which nothing here reads (CoreShowChannels
    is asked only after a reconnect)."""
    ringing, ringing_out = missed_calls(pbx, first, count)
    for raw in recorded_events(ringing):
        await asterisk.broadcast_raw(raw)
    await asyncio.sleep(max(RINGING_AT_LEAST, count * RINGING_PER_CALL))
    for raw in recorded_events(ringing_out):
        if b"Event: Hangup\r\n" in raw:
            (message,) = AmiFramer(expect_banner=False).feed(raw)
            if message.get("Uniqueid") == message.get("Linkedid"):
                hung_up[message.get("CallerIDNum")] = time.monotonic()
        await asterisk.broadcast_raw(raw)


class Doubles:
    """The AMI double and, for modem texting, the simulated modem."""

    def __init__(self, asterisk: FakeAsterisk, modem: SimulatedModem | None):
        self.asterisk = asterisk
        self.modem = modem
        self.hung_up: dict[str, float] = {}
        self._pbx = callgen.Pbx(epoch=EPOCH)

    def sent(self) -> int:
        if self.modem is not None:
            return len(self.modem.engine.sent)
        return len(self.asterisk.messages)

    def latencies(self) -> list[float]:
        """Hang-up -> the send read, in ms, per text out."""
        if self.modem is not None:
            return [
                (s.requested_at - self.hung_up[s.number]) * 1000 for s in self.modem.engine.sent
            ]
        # Destination: pjsip:provider-trunk/sip:+1737...@host
        return [
            (m.at - self.hung_up[m.destination.split("sip:")[2].split("@")[0]]) * 1000
            for m in self.asterisk.messages
        ]

    async def play(self, first: int, count: int) -> None:
        await play_batch(self.asterisk, self._pbx, first, count, self.hung_up)
        async with asyncio.timeout(120):
            # The simulators signal nothing: look until the batch is out.
            while self.sent() < first + count:  # noqa: ASYNC110
                await asyncio.sleep(0.001)

    async def answer(self, request: dict[str, int | str]) -> dict[str, object]:
        match request["do"]:
            case "session":
                async with asyncio.timeout(10):
                    await self.asterisk.wait_for(lambda: self.asterisk.sessions == 1)
                return {}
            case "play":
                await self.play(int(request["first"]), int(request["count"]))
                return {}
            case "latencies":
                return {"ms": self.latencies()}
        raise ValueError(f"unknown request {request!r}")


async def serve(transport: list[str]) -> None:
    async with AsyncExitStack() as running:
        asterisk = await running.enter_async_context(FakeAsterisk(secret=SECRET))
        modem = None
        if transport[0] == "modem":
            modem = await running.enter_async_context(SimulatedModem(Path(transport[1])))
        doubles = Doubles(asterisk, modem)
        say({"ami_port": asterisk.port})
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            say(await doubles.answer(json.loads(line)))


def say(answer: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1:]))
