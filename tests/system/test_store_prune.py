"""`textback store prune` as an installer runs it: a dry run first, then the
prune; keep_days unset is a usage error, not a traceback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.app import Bridge
from bridge.config import Config
from bridge.core.retention import PRUNED
from bridge.core.texts import OwnerAction
from bridge.store import Store
from tests.support.ami import SECRET
from tests.support.cli import textback
from tests.support.example_config import example_config
from tests.support.store_values import Clock, a_text, decision, received

ENV = {"AMI_SECRET": SECRET, "SMTP_PASSWORD": "smtp-secret"}


async def _an_old_won_lead(path: Path) -> None:
    clock = Clock(datetime.now(UTC) - timedelta(days=400))
    async with await Store.open(path, clock=clock) as store:
        await store.record_decision(decision(ended_at=clock()), text=a_text())
        (text,) = await store.due_texts(clock() + timedelta(minutes=1))
        await store.mark_sending(text.id, "modem")
        await store.mark_sent(text.id, [1], clock())
        await store.store_incoming(received("Need a quote", at=clock()), None)
        await store.owner_action("mike", OwnerAction(1, "done"))


async def _bodies(path: Path) -> list[object]:
    async with await Store.open(path, read_only=True) as store:
        return [r["body"] for r in await store.inbox()] + [r["body"] for r in await store.outbox()]


async def test_prune_dry_run_then_prune(tmp_path: Path) -> None:
    config = example_config(tmp_path, 5038)
    await _an_old_won_lead(tmp_path / "textback.db")
    args = ("store", "prune", "--config", str(config), "--keep-days", "365")
    code, out, err = await textback(*args, "--dry-run", env=ENV)
    assert code == 0, err
    assert out.startswith("would blank 0 alert(s), 1 text(s) out, 1 text(s) in older than 365")
    assert await _bodies(tmp_path / "textback.db") == ["Need a quote", "Sorry we missed your call"]
    code, out, err = await textback(*args, env=ENV)
    assert code == 0, err
    assert out.startswith("blanked 0 alert(s), 1 text(s) out, 1 text(s) in")
    assert await _bodies(tmp_path / "textback.db") == [PRUNED, PRUNED]


async def test_prune_without_keep_days_says_how_to_give_it(tmp_path: Path) -> None:
    config = example_config(tmp_path, 5038)
    code, _, err = await textback("store", "prune", "--config", str(config), env=ENV)
    assert code == 2
    assert "store.keep_days is not set (everything is kept)" in err
    assert "Traceback" not in err


async def test_prune_takes_keep_days_from_the_config(tmp_path: Path) -> None:
    config = example_config(tmp_path, 5038)
    config.write_text(config.read_text().replace("# keep_days: 730", "keep_days: 30"))
    await _an_old_won_lead(tmp_path / "textback.db")
    code, out, err = await textback("store", "prune", "--config", str(config), env=ENV)
    assert code == 0, err
    assert "older than 30 days" in out


async def test_the_daemon_prunes_only_when_keep_days_is_set(tmp_path: Path) -> None:
    def config(store: dict[str, object]) -> Config:
        return Config.model_validate(
            {
                "business": {"name": "Acme Roofing"},
                "ami": {"username": "textback", "secret": SECRET},
                "lines": [{"did": "+15125550100", "name": "Main line"}],
                "store": {"path": str(tmp_path / "t.db"), **store},
            },
            context={"region": "US"},
        )

    async with await Store.open(tmp_path / "t.db") as store:
        kept = Bridge(config({}), store).supervisor.statuses()
        pruned = Bridge(config({"keep_days": 730}), store).supervisor.statuses()
    assert "prune" not in [job.name for job in kept]
    assert "prune" in [job.name for job in pruned]
