"""Issue 13 item 2 over the AMI double and the simulated modem: a caller who
rings three times unanswered is one thread ("called 3 times since ..."), the
owner's alert says so, and the caller is texted back once per cooldown."""

from __future__ import annotations

import re
from pathlib import Path

from bridge.core.calls import Outcome
from bridge.sim import callgen
from tests.support.ami import SECRET
from tests.support.cli import textback
from tests.support.example_config import example_config
from tests.support.expected import CALLER
from tests.support.modem import whole_texts
from tests.support.office import NO_ALERTS, Office, office
from tests.support.polling import until

MIKE = "+15125550199"
SMS_FOR_MISSED = {"missed_call": ["sms"], "reply": [], "reminder": []}
OWNER = {
    "id": "mike", "name": "Mike", "mobile": MIKE,
    "alerts": {"business_hours": SMS_FOR_MISSED, "after_hours": NO_ALERTS},
}  # fmt: skip


def texts_to(shop: Office, number: str) -> list[str]:
    return whole_texts(shop.modem.engine.sent, number)


async def test_three_missed_calls_from_one_caller(tmp_path: Path) -> None:
    async with office(tmp_path, owners=[OWNER]) as shop:
        for n in range(1, 4):
            pbx = callgen.Pbx(epoch=1_795_617_000 + 100 * n)  # each its own call
            decision = await shop.missed_call(callgen.render("no_answer", pbx=pbx))
            assert decision.outcome is Outcome.MISSED
            assert decision.caller == CALLER
            shop.bridge.alerts.wake()
            await until(lambda n=n: len(texts_to(shop, MIKE)) == n)
        (summary,) = await shop.bridge.store.threads()
        assert summary.calls == 3
        assert len(texts_to(shop, CALLER)) == 1  # one text-back per cooldown
        first, second, third = texts_to(shop, MIKE)
        assert "called" not in first.split(",")[0]
        assert re.search(r" - called 2 times since \d{1,2}:\d\d [ap]m, ", second)
        assert re.search(r" - called 3 times since \d{1,2}:\d\d [ap]m, no text went out", third)
    config = example_config(tmp_path, 5038)  # the same store, read by the office's CLI
    code, out, err = await textback(
        "thread", "--config", str(config), "1", env={"AMI_SECRET": SECRET, "SMTP_PASSWORD": "x"}
    )
    assert code == 0, err
    assert "called 3 times since" in out.splitlines()[0]
