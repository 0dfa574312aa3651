"""Click-to-call over the AMI link to the AMI double (a loopback socket) and a
real store: the exact Originate Asterisk receives, its refusals, and how the
owner's leg ended (OriginateResponse) told to the owner in words."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.ami.framer import AmiMessage
from bridge.ami.link import AmiLink
from bridge.bus import Bus
from bridge.config import Config
from bridge.followup.click_to_call import ClickToCall
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.callgen import Pbx
from bridge.sim.originate import BUSY, NO_ANSWER, NO_SUCH_PHONE, click_to_call
from bridge.store import Store
from tests.support.ami import SECRET, fast_ami
from tests.support.polling import until, until_true
from tests.support.store_values import CALLER, Clock, decision

MIKE = "+15125550199"
MAY_ORIGINATE = frozenset({"system", "message", "originate"})


def office_config(port: int, store: Path, owner: dict[str, object]) -> Config:
    return Config.model_validate(
        {
            "business": {"name": "Acme Roofing"},
            "ami": fast_ami(port).model_dump() | {"secret": SECRET},
            "lines": [{"did": "+15125550100", "name": "Main line", "owners": ["mike"]}],
            "owners": [{"id": "mike", "name": "Mike"} | owner],
            "store": {"path": str(store)},
        },
        context={"region": "US"},
    )


@dataclass
class Desk:
    asterisk: FakeAsterisk
    store: Store
    click: ClickToCall
    thread: int

    def originates(self) -> list[AmiMessage]:
        return [a for a in self.asterisk.actions if a.get("Action") == "Originate"]

    async def notes_to(self, number: str) -> list[str]:
        rows = await self.store.outbox()
        return [
            str(r["body"]) for r in rows if r["to_number"] == number and r["kind"] == "owner_notice"
        ]


@asynccontextmanager
async def desk(
    tmp_path: Path, owner: dict[str, object], *, write: frozenset[str] = MAY_ORIGINATE
) -> AsyncIterator[Desk]:
    async with FakeAsterisk(secret=SECRET, write_classes=write) as asterisk:
        config = office_config(asterisk.port, tmp_path / "textback.db", owner)
        async with await Store.open(config.store.path, clock=Clock()) as store:
            await store.record_decision(decision("missed-1"))
            (thread,) = await store.threads()
            link = AmiLink(config.ami, lambda _: None)
            click = ClickToCall(config, store, link, clock=Clock(), bus=Bus())
            async with asyncio.TaskGroup() as tasks:
                jobs = [tasks.create_task(link.run()), tasks.create_task(click.run())]
                async with asyncio.timeout(5):
                    await link.wait_connected()
                yield Desk(asterisk, store, click, thread.id)
                for job in jobs:
                    job.cancel()


async def test_the_originate_asterisk_receives_header_by_header(tmp_path: Path) -> None:
    async with desk(tmp_path, {"extension": "PJSIP/201", "mobile": MIKE}) as d:
        words = await d.click.call_back(d.thread, "mike")
        assert words == (
            f"#{d.thread}: ringing your phone, then (512) 555-9876"
            " - pick up and textback puts you through."
        )
        (action,) = d.originates()
        action_id = action.get("ActionID")
        assert action_id.startswith("textback-")
        assert action.items() == [
            ("Action", "Originate"),
            ("Channel", "PJSIP/201"),
            ("Context", "textback-click-to-call"),
            ("Exten", CALLER),
            ("Priority", "1"),
            ("CallerID", '"Main line" <+15125550100>'),
            ("Timeout", "30000"),
            ("Variable", f"TEXTBACK_THREAD={d.thread}"),
            ("Variable", "TEXTBACK_OWNER=mike"),
            ("Async", "true"),
            ("ActionID", action_id),
        ]


async def test_an_owner_with_no_extension_is_rung_on_their_mobile_through_the_trunk(
    tmp_path: Path,
) -> None:
    async with desk(tmp_path, {"mobile": MIKE}) as d:
        assert (await d.click.call_back(d.thread, "mike")).startswith(f"#{d.thread}: ringing")
        (action,) = d.originates()
        assert action.get("Channel") == f"PJSIP/{MIKE}@trunk"


async def test_a_user_without_write_originate_is_refused_in_words(tmp_path: Path) -> None:
    async with desk(tmp_path, {"extension": "PJSIP/201"}, write=frozenset({"system"})) as d:
        words = await d.click.call_back(d.thread, "mike")
        assert words == (
            f"#{d.thread}: the phone system refused the call: Permission denied"
            f" (the AMI user needs write = originate). Call them: {CALLER}"
        )


@pytest.mark.parametrize(
    ("owner_leg", "said"),
    [
        (NO_ANSWER, "it rang and nobody answered"),
        (BUSY, "it was busy"),
        (NO_SUCH_PHONE, "the call could not be placed (no such phone or route)"),
    ],
)
async def test_the_owner_s_phone_not_reached_is_texted_to_them(
    tmp_path: Path, owner_leg: str, said: str
) -> None:
    async with desk(tmp_path, {"extension": "PJSIP/201", "mobile": MIKE}) as d:
        await d.click.call_back(d.thread, "mike")
        await until(lambda: len(d.originates()) == 1)
        pbx = Pbx()
        for _ in click_to_call(pbx, d.originates()[0], owner=owner_leg):
            await d.asterisk.play(recorded_events(pbx.take()))
        await d.asterisk.play(recorded_events(pbx.take()))

        async def noted() -> bool:
            return bool(await d.notes_to(MIKE))

        await until_true(noted)
        assert await d.notes_to(MIKE) == [
            f"#{d.thread}: your phone (PJSIP/201) was not reached: {said}."
            f" Nobody was called. CALL {d.thread} to try again."
        ]


async def test_nothing_is_dialled_without_a_phone_to_ring_or_a_link(tmp_path: Path) -> None:
    async with desk(tmp_path, {}) as d:
        assert await d.click.call_back(d.thread, "mike") == (
            f"#{d.thread}: textback has no extension or mobile to ring for you. Call them: {CALLER}"
        )
        assert await d.click.call_back(99, "mike") == "textback: there is no thread #99."
    async with desk(tmp_path / "down", {"extension": "PJSIP/201"}) as d:
        await d.asterisk.stop()
        await until(lambda: not d.click.link.is_connected())
        assert await d.click.call_back(d.thread, "mike") == (
            f"#{d.thread}: the phone system is not connected, nothing was dialled."
            f" Call them: {CALLER}"
        )
        assert d.originates() == []
