"""The caps are a safety valve against a looping PBX, not a business limit:
a roofer's hail storm (a hundred callers in an hour, bunched) is texted back
in full; a PBX that loops over the same few numbers, or reports calls faster
than any office's trunks can ring, is stopped. Decided as the recorder
decides (texting.plan over the store's history), on an injected clock."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bridge.config import Config
from bridge.store import Store
from bridge.texting import plan as textback
from tests.support.store_values import T0, Clock, decision

CONFIG = Config.model_validate(
    {
        "business": {"name": "Acme Roofing", "hours": {"mon-sun": "00:00-23:59"}},
        "ami": {"username": "textback", "secret": "s3cret-enough"},
        "lines": [{"did": "+15125550100", "name": "Main line"}],
    },
    context={"region": "US"},
)


async def _calls(
    store: Store, clock: Clock, callers: list[str], every_seconds: float
) -> Counter[str]:
    """Each caller's missed call, ``every_seconds`` apart: how many of each outcome."""
    rules = textback.text_policy(CONFIG)
    outcomes: Counter[str] = Counter()
    for caller in callers:
        now = clock()
        linkedid = f"{now.timestamp():.3f}"  # one call a moment: each is stored
        call = decision(linkedid, caller=caller, caller_raw=caller, started_at=now, ended_at=now)
        history = await store.text_history(caller, now)
        planned = textback.plan(CONFIG, rules, call, history, now, can_send=None)
        assert await store.record_decision(call, text=planned.text, text_skip=planned.skip)
        outcomes[planned.skip or "texted"] += 1
        clock.advance(seconds=every_seconds)
    return outcomes


async def test_a_hundred_caller_storm_is_texted_back_in_full(tmp_path: Path) -> None:
    clock = Clock(T0)
    async with await Store.open(tmp_path / "t.db", clock=clock) as store:
        # Bunched as a storm is: 100 callers in 20 minutes, 5 a minute.
        callers = [f"+1512555{2000 + n:04d}" for n in range(100)]
        assert await _calls(store, clock, callers, every_seconds=12) == {"texted": 100}


async def test_a_looping_pbx_is_stopped(tmp_path: Path) -> None:
    clock = Clock(T0)
    async with await Store.open(tmp_path / "t.db", clock=clock) as store:
        # The same three numbers, over and over: the cooldown, as before.
        few = ["+15125552001", "+15125552002", "+15125552003"]
        same = await _calls(store, clock, few * 20, every_seconds=1)
        assert same == {"texted": 3, "texted-recently": 57}
        # New numbers two a second (a loop, a replayed log): the burst cap
        # holds it to max_per_minute a minute, and the hourly cap after that.
        fast = [f"+1512555{3000 + n:04d}" for n in range(120 * 5)]
        outcomes = await _calls(store, clock, fast, every_seconds=0.5)
    texted = outcomes["texted"]
    per_minute = CONFIG.texting.max_per_minute
    assert texted == 5 * per_minute  # five minutes of loop
    assert outcomes["burst-cap"] == len(fast) - texted
