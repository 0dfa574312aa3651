"""`textback run --dry-run`, the step before going live: decisions are recorded
and marked, and nobody - caller or owner - hears a thing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bridge.app import Bridge
from bridge.core.calls import CallDecision
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.mail import MailCatcher
from bridge.store import Store
from tests.support.alerts import config
from tests.support.ami import SECRET, fast_ami
from tests.support.expected import trace
from tests.support.running import running


async def test_a_dry_run_records_calls_contacts_nobody_and_counts_nothing(tmp_path: Path) -> None:
    mail = MailCatcher()
    await mail.start()
    try:
        async with FakeAsterisk(secret=SECRET) as asterisk:
            cfg = config(mail.port, tmp_path / "t.db").model_copy(
                update={"ami": fast_ami(asterisk.port)}
            )
            decided: asyncio.Queue[CallDecision] = asyncio.Queue()
            async with await Store.open(cfg.store.path) as store:
                bridge = Bridge(cfg, store, dry_run=True, on_decision=decided.put_nowait)
                async with running(bridge):
                    await asterisk.wait_for(lambda: asterisk.sessions == 1)
                    running_tasks = {task.get_name() for task in asyncio.all_tasks()}
                    await asterisk.play(recorded_events(trace("02_noanswer.ami")))
                    async with asyncio.timeout(5):
                        decision = await decided.get()
                stored = await store.call(decision.linkedid)
                assert stored is not None
                assert (stored.outcome, stored.dry_run, stored.text_skip) == (
                    "missed", True, "dry-run",
                )  # fmt: skip
                # No lead to follow up and nothing for anyone to hear about,
                # now or once the bridge goes live on this store.
                assert stored.thread_id is None
                assert await store.threads() == []
                assert await store.unalerted() == []
                assert await store.alerts() == []
                assert await store.outbox() == []
                figures = await store.report(None)
                assert figures.missed_calls == 0
    finally:
        await mail.stop()
    # The workers that email, remind and send the digest do not run at all.
    assert "ami-link" in running_tasks
    assert not running_tasks & {"owner-alerts", "follow-up"}
    assert mail.mailbox.messages == []
