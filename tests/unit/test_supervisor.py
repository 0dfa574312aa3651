"""The supervisor: auxiliary jobs restarted, core failures end the run, and
every job stopped in the bridge's order. Real tasks, a controllable clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from bridge.supervisor import CoreFailure, JobState, JobStatus, Supervisor
from tests.support.polling import until

GROUPS = ("intake", "record", "send", "ops")


class Flaky:
    """Fails its first ``crashes`` runs, then runs until stopped."""

    def __init__(self, crashes: int):
        self.crashes = crashes
        self.runs = 0
        self.running = asyncio.Event()

    async def __call__(self) -> None:
        self.runs += 1
        if self.runs <= self.crashes:
            raise RuntimeError(f"crash {self.runs}")
        self.running.set()
        await asyncio.Event().wait()


async def forever() -> None:
    await asyncio.Event().wait()


async def test_an_auxiliary_job_that_crashes_is_restarted_and_shows_degraded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    changes: list[JobStatus] = []
    supervisor = Supervisor(stop_order=GROUPS, on_change=changes.append, restart_min=0.01)
    flaky = Flaky(crashes=2)
    supervisor.add("intake", forever, core=True, group="intake")
    supervisor.add("digest", flaky, core=False, group="ops")
    task = asyncio.create_task(supervisor.run())
    try:
        async with asyncio.timeout(5):
            await flaky.running.wait()
        (digest,) = [s for s in supervisor.statuses() if s.name == "digest"]
        assert (digest.state, digest.restarts, digest.last_error) == (
            JobState.DEGRADED, 2, "RuntimeError: crash 2",
        )  # fmt: skip
        assert [s.name for s in supervisor.degraded()] == ["digest"]
        intake = next(s for s in supervisor.statuses() if s.name == "intake")
        assert intake.state is JobState.RUNNING  # the rest never noticed
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # One traceback per crash, with the job's name; nothing logged twice.
    crashes = [r for r in caplog.records if "digest crashed" in r.getMessage()]
    assert len(crashes) == 2
    assert all(r.exc_info is not None for r in crashes)
    assert [s.state for s in changes if s.name == "digest"][:2] == [
        JobState.RUNNING, JobState.DEGRADED,
    ]  # fmt: skip


async def test_a_restarted_job_that_keeps_running_is_healthy_again() -> None:
    supervisor = Supervisor(stop_order=GROUPS, restart_min=0.01, healthy_after=0.05)
    flaky = Flaky(crashes=1)
    supervisor.add("digest", flaky, core=False, group="ops")
    task = asyncio.create_task(supervisor.run())
    try:
        await until(lambda: supervisor.statuses()[0].state is JobState.RUNNING and flaky.runs == 2)
        assert supervisor.degraded() == []
        assert supervisor.statuses()[0].restarts == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_core_failure_stops_everything_in_order_and_is_raised() -> None:
    stopped: list[str] = []
    supervisor = Supervisor(stop_order=GROUPS)
    broken = asyncio.Event()

    def job(name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                await asyncio.Event().wait()
            finally:
                stopped.append(name)

        return run

    async def core() -> None:
        await broken.wait()
        raise ValueError("the AMI socket burst into flames")

    supervisor.add("ops-job", job("ops-job"), core=False, group="ops")
    supervisor.add("recorder", job("recorder"), core=True, group="record")
    supervisor.add("send-job", job("send-job"), core=False, group="send")
    supervisor.add("ami-link", core, core=True, group="intake")
    task = asyncio.create_task(supervisor.run())
    await asyncio.sleep(0)
    broken.set()
    with pytest.raises(CoreFailure) as failure:
        async with asyncio.timeout(5):
            await task
    assert failure.value.job == "ami-link"
    assert isinstance(failure.value.cause, ValueError)
    assert stopped == ["recorder", "send-job", "ops-job"]  # the stop order, not the start order
    assert all(s.state is JobState.STOPPED for s in supervisor.statuses())


async def test_a_job_asked_to_stop_finishes_its_work_first() -> None:
    """The outbox is asked to stop and finishes the text it is sending."""
    supervisor = Supervisor(stop_order=GROUPS)
    asked = asyncio.Event()
    finished: list[str] = []

    async def outbox() -> None:
        await asked.wait()
        await asyncio.sleep(0)  # the send in flight completes
        finished.append("the text in flight")

    supervisor.add("outbox", outbox, core=False, group="send", stop=asked.set, grace=5)
    task = asyncio.create_task(supervisor.run())
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert finished == ["the text in flight"]
    assert supervisor.statuses()[0].state is JobState.FINISHED


async def test_a_job_that_ignores_the_request_is_cancelled_after_its_grace() -> None:
    supervisor = Supervisor(stop_order=GROUPS)
    supervisor.add("stubborn", forever, core=False, group="send", stop=lambda: None, grace=0.01)
    task = asyncio.create_task(supervisor.run())
    await asyncio.sleep(0)
    task.cancel()
    async with asyncio.timeout(5):
        await asyncio.gather(task, return_exceptions=True)
    assert supervisor.statuses()[0].state is JobState.STOPPED


def test_a_group_outside_the_stop_order_is_refused() -> None:
    with pytest.raises(ValueError, match="not in the stop order"):
        Supervisor(stop_order=GROUPS).add("x", forever, core=False, group="elsewhere")


@pytest.fixture(autouse=True)
def _logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
