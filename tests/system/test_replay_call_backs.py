"""`textback replay --json` on a recording holding a missed call and the
desk's call back to it: the outbound call names its callee in E.164 and the
missed call it answers (calls_back, that call's linkedid)."""

from __future__ import annotations

import json
from pathlib import Path

from bridge.sim import callgen
from bridge.sim.callbacks import call_back
from tests.support.cli import textback
from tests.support.expected import CALLER


def recording(tmp_path: Path, *, dialled: str, missed_first: bool = True) -> Path:
    pbx = callgen.Pbx()
    parts = [callgen.BANNER]
    scenarios = [callgen.no_answer(pbx), call_back(pbx, dialled=dialled)]
    for scenario in scenarios if missed_first else scenarios[::-1]:
        for _ in scenario:
            parts.append(pbx.take())
        parts.append(pbx.take())
    path = tmp_path / "call-back.ami"
    path.write_bytes(b"".join(parts))
    return path


async def test_an_outbound_call_names_its_callee_and_the_missed_call_it_answers(
    tmp_path: Path,
) -> None:
    code, out, err = await textback(
        "replay", str(recording(tmp_path, dialled="95125559876")), "--json"
    )
    assert code == 0, err
    missed, back = [json.loads(line) for line in out.splitlines()]
    assert (missed["outcome"], missed["caller"], missed["callee"]) == ("missed", CALLER, None)
    assert missed["calls_back"] is None
    assert (back["outcome"], back["callee"]) == ("outbound", CALLER)
    assert back["calls_back"] == missed["linkedid"]


async def test_a_call_back_before_the_missed_call_answers_nothing(tmp_path: Path) -> None:
    path = recording(tmp_path, dialled="5125559876", missed_first=False)
    code, out, err = await textback("replay", str(path), "--json")
    assert code == 0, err
    back, missed = [json.loads(line) for line in out.splitlines()]
    assert (back["outcome"], back["callee"], back["calls_back"]) == ("outbound", CALLER, None)
    assert missed["outcome"] == "missed"
