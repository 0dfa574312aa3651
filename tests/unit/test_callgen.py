"""Our own scenario streams must look like the real Asterisk 22 recordings."""

from __future__ import annotations

from bridge.ami.framer import AmiFramer
from bridge.sim import callgen
from tests.support.expected import REAL_TRACES, trace


def layouts(data: bytes) -> dict[str, set[tuple[str, ...]]]:
    seen: dict[str, set[tuple[str, ...]]] = {}
    for message in AmiFramer().feed(data):
        if message.event:
            seen.setdefault(message.event, set()).add(tuple(k for k, _ in message.items()))
    return seen


REAL = layouts(b"".join(trace(name) for name in sorted(REAL_TRACES)))
OURS = layouts(callgen.render(*callgen.SCENARIOS))


def test_every_event_we_write_that_asterisk_wrote_has_its_exact_header_layout() -> None:
    shared = set(REAL) & set(OURS)
    assert {"Newchannel", "DialBegin", "DialEnd", "Hangup", "BridgeEnter", "VarSet"} <= shared
    for event in shared:
        assert OURS[event] <= REAL[event], event


def test_events_only_we_write_are_the_documented_ones() -> None:
    # AgentConnect: a queue member answering; no recording has one.
    assert set(OURS) - set(REAL) <= {"AgentConnect"}


def test_privileges_match_the_recordings() -> None:
    def privileges(data: bytes) -> dict[str, str]:
        return {m.event or "": m.get("Privilege") for m in AmiFramer().feed(data) if m.event}

    real = privileges(b"".join(trace(name) for name in sorted(REAL_TRACES)))
    for event, privilege in privileges(callgen.render(*callgen.SCENARIOS)).items():
        if event in real:
            assert privilege == real[event], event
