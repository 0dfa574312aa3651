"""The recovery ledger through the textback command on a known history: the
steps from the office (`textback booked|won|lost`), their refusals, and
`textback report` as a table, as JSON and as CSV (a hostile line name made
plain text for the spreadsheet)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner, Result

from bridge.cli import main
from bridge.core.callbacks import CALLED, ThreadLink
from bridge.core.calls import Outcome
from bridge.core.texts import OutgoingText, OwnerAction, ReceivedText
from bridge.store import Store
from tests.support.expected import CALLER
from tests.support.follow_through import T0, Clock, config_yaml, settings, texted_back
from tests.support.store_values import decision

OTHER, THIRD = "+15125550142", "+15125550143"
MAIN, SECOND = "+15125550100", "+15125550111"
HOSTILE = '=HYPERLINK("http://evil.invalid","Main")'  # a line name someone typed in


async def known_history(store: Store, clock: Clock) -> None:
    """Three leads; an answered call that is none."""
    # 1: texted back, replied after 5 min, called back by desk 201 at 12 min.
    await texted_back(store, clock, "one")
    clock.advance(minutes=5)
    await store.store_incoming(ReceivedText(CALLER, "yes please", 1, clock()), None)
    clock.advance(minutes=7)
    back = decision("back", outcome=Outcome.OUTBOUND, caller="201", callee=CALLER, ended_at=clock())
    await store.record_decision(back, link=ThreadLink(CALLER, CALLED, "called back by 201"))
    # 2: texted back an hour later; lost, below.
    clock.advance(hours=1)
    text = OutgoingText(OTHER, "Sorry we missed your call", 1, clock() + timedelta(minutes=30))
    await store.record_decision(decision("two", caller=OTHER, ended_at=clock()), text=text)
    for due in await store.due_texts(clock()):
        await store.mark_sending(due.id, "modem")
        await store.mark_sent(due.id, [2], clock())
    # 3: a week later on the second line, not texted; DONE by an owner.
    clock.advance(days=7)
    call = decision("three", caller=THIRD, line=SECOND, ended_at=clock())
    await store.record_decision(call, text_skip="texted-recently")
    await store.owner_action("mike", OwnerAction(3, "done"))
    await store.record_decision(decision("picked", outcome=Outcome.ANSWERED, ended_at=clock()))


async def textback(*args: str) -> Result:
    # The command runs its own event loop: off this one.
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


async def test_the_ledger_on_a_known_history(tmp_path: Path) -> None:
    cfg = settings(tmp_path)
    clock = Clock(T0)
    async with await Store.open(cfg.store.path, clock=clock) as store:
        await known_history(store, clock)
    config = tmp_path / "textback.yaml"
    lines = [
        {"did": MAIN, "name": "Main line", "owners": ["mike"]},
        {"did": SECOND, "name": HOSTILE},
    ]
    config.write_text(config_yaml(cfg, lines=lines))
    at = ("--config", str(config))

    steps = [
        (("booked", "1", "--value", "$450"), 0, "#1 (512) 555-9876 booked at $450."),
        (("won", "1", "--value", "1,200", "--by", "mike"), 0, "#1 (512) 555-9876 won at $1,200."),
        (("lost", "2", "--reason", "price"), 0, "#2 (512) 555-0142 lost: price - marked handled."),
        (("booked", "1"), 2, "#1 (512) 555-9876 is already won at $1,200: nothing changed."),
        (("won", "1"), 0, "#1 (512) 555-9876 is already won at $1,200: nothing changed."),
        (("booked", "2", "--value", "2pm"), 2, "--value: '2pm' is not an amount"),
        (("won", "9"), 2, "there is no thread #9"),
        (("won", "2", "--by", "nobody"), 2, "no owner 'nobody'"),
    ]
    for args, code, said in steps:
        result = await textback(*args, *at)
        assert result.exit_code == code, (args, result.output)
        assert said in " ".join(result.output.split()), (args, result.output)
        assert "Traceback" not in result.output

    result = await textback("report", *at, "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    stages = {stage: each["count"] for stage, each in figures["ledger"]["stages"].items()}
    assert stages == {
        "missed": 3, "texted": 2, "replied": 1, "called_back": 1, "booked": 1, "won": 1, "lost": 1,
    }  # fmt: skip
    assert figures["ledger"]["stages"]["texted"]["rate"] == 0.6667
    assert figures["ledger"]["median_minutes_to_call_back"] == 12.0
    assert figures["ledger"]["close_rate"] == 0.5
    assert figures["ledger"]["recovered"] == {
        "leads": 2, "value": 2050.0,
        "entered": {"leads": 1, "value": 1200.0}, "estimated": {"leads": 1, "value": 850.0},
    }  # fmt: skip
    assert figures["estimated_recovered_value"] == 2050.0
    by_line = {line["name"]: line["leads"] for line in figures["lines"]}
    assert by_line == {"Main line": 2, HOSTILE: 1}
    assert [(week["week"], week["leads"]) for week in figures["weeks"]] == [
        ("2026-11-23", 2), ("2026-11-30", 1),
    ]  # fmt: skip
    assert figures["weeks"][0]["median_minutes_to_call_back"] == 12.0
    assert figures["weeks"][1]["recovered"]["value"] == 850.0

    table = await textback("report", *at)
    assert table.exit_code == 0, table.output
    rows = [" ".join(line.split()) for line in table.output.splitlines()]
    assert "missed calls 3 (3 leads)" in rows
    assert "median time to a call-back 12 min" in rows
    assert "recovered value $2,050 (1 entered: $1,200; 1 x $850 average)" in rows
    assert "called back 1 33%" in rows
    assert "won 1 33%" in rows
    assert "Main line 2 2 1 1 1 1 1 12 min $1,200" in rows
    assert "week of 2026-11-30 1 0 0 0 0 0 0 - $850" in rows

    exported = await textback("report", *at, "--csv")
    assert exported.exit_code == 0, exported.output
    header, total, *rest = list(csv.reader(io.StringIO(exported.output)))
    assert header[:9] == [
        "scope", "name", "missed", "texted", "replied", "called_back", "booked", "won", "lost",
    ]  # fmt: skip
    assert total[:9] == ["total", "all", "3", "2", "1", "1", "1", "1", "1"]
    named = {row[1]: row for row in rest if row[0] == "line"}
    assert set(named) == {"Main line", "'" + HOSTILE}  # shown as text, never run
    assert named["Main line"][header.index("recovered_value")] == "1200.0"
    assert "\"'=HYPERLINK(" in exported.output  # quoted, and the formula made text
    assert [row[1] for row in rest if row[0] == "week"] == ["2026-11-23", "2026-11-30"]

    both = await textback("report", *at, "--csv", "--json")
    assert both.exit_code == 2
