"""One supervisor owns every long-running task of the bridge.

Jobs are started in the order they are added and stopped group by group in
the order the bridge gives (intake first, so nothing new arrives; then the
recorder drains what was decided; then the outbox finishes the text it is
sending; then the transports close). Two kinds of job:

- **core** (AMI intake, the decision recorder): the bridge is no use without
  them. One that fails stops everything in order and ``run`` raises
  :class:`CoreFailure`, which the command line turns into an exit code.
- **auxiliary** (alerts, follow-up, the digest, transports, the heartbeat):
  one that crashes is logged with its traceback - once per crash - and
  restarted with capped exponential backoff, and shows as ``degraded`` until
  it has run ``healthy_after`` seconds without failing. Detection and
  text-backs go on meanwhile.

A job may also just return (nothing to do): it is then ``finished``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

log = logging.getLogger(__name__)


class JobState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    DEGRADED = "degraded"  # crashed lately; restarted, or about to be
    FINISHED = "finished"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class JobStatus:
    name: str
    core: bool
    state: JobState
    restarts: int = 0
    last_error: str = ""


class CoreFailure(Exception):
    """A core job failed: the bridge stopped. ``cause`` is what it raised."""

    def __init__(self, job: str, cause: BaseException):
        super().__init__(f"{job} failed: {type(cause).__name__}: {cause}")
        self.job = job
        self.cause = cause


@dataclass
class _Job:
    name: str
    run: Callable[[], Awaitable[None]]
    core: bool
    group: str
    stop: Callable[[], None] | None  # asks the job to finish on its own
    grace: float
    state: JobState = JobState.STARTING
    restarts: int = 0
    last_error: str = ""
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def status(self) -> JobStatus:
        return JobStatus(self.name, self.core, self.state, self.restarts, self.last_error)


class Supervisor:
    def __init__(
        self,
        *,
        stop_order: Sequence[str],
        on_change: Callable[[JobStatus], None] | None = None,
        restart_min: float = 1.0,
        restart_max: float = 300.0,
        healthy_after: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._stop_order = tuple(stop_order)
        self._on_change = on_change
        self._restart = (restart_min, restart_max)
        self._healthy_after = healthy_after
        self._clock = clock
        self._jobs: list[_Job] = []
        self._failed: asyncio.Future[_Job] | None = None

    def add(
        self,
        name: str,
        run: Callable[[], Awaitable[None]],
        *,
        core: bool,
        group: str,
        stop: Callable[[], None] | None = None,
        grace: float = 5.0,
    ) -> None:
        """``run`` is called anew for each (re)start. ``stop`` asks the job to
        end by itself; it gets ``grace`` seconds before it is cancelled."""
        if group not in self._stop_order:
            raise ValueError(f"group {group!r} is not in the stop order")
        self._jobs.append(_Job(name, run, core, group, stop, grace))

    def statuses(self) -> list[JobStatus]:
        return [job.status() for job in self._jobs]

    def degraded(self) -> list[JobStatus]:
        return [job.status() for job in self._jobs if job.state is JobState.DEGRADED]

    async def run(self) -> None:
        """Until cancelled (then every job is stopped in order) or a core job
        fails (then likewise, and CoreFailure is raised)."""
        self._failed = asyncio.get_running_loop().create_future()
        try:
            for job in self._jobs:
                job.task = asyncio.create_task(self._keep(job), name=job.name)
            failed = await self._failed
        finally:
            await asyncio.shield(self._stop_all())
        assert failed.task is not None
        cause = failed.task.exception() if not failed.task.cancelled() else None
        raise CoreFailure(failed.name, cause or RuntimeError("stopped"))

    # ------------------------------------------------------------ one job

    async def _keep(self, job: _Job) -> None:
        """Run a job; restart an auxiliary one that fails, with backoff."""
        failures = 0
        while True:
            started = self._clock()
            self._set(job, JobState.RUNNING if failures == 0 else JobState.DEGRADED)
            watch = asyncio.create_task(self._healthy_later(job)) if failures else None
            try:
                await job.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if job.core:
                    log.critical("%s failed: the bridge stops", job.name, exc_info=exc)
                    job.last_error = _brief(exc)
                    self._set(job, JobState.STOPPED)
                    self._fail(job)
                    raise
                failures = 0 if self._clock() - started >= self._healthy_after else failures
                failures += 1
                job.restarts += 1
                job.last_error = _brief(exc)
                delay = min(self._restart[1], self._restart[0] * 2 ** (failures - 1))
                log.error(
                    "%s crashed (restart %d in %.0f s; detection and texting go on)",
                    job.name, job.restarts, delay, exc_info=exc,
                )  # fmt: skip
                self._set(job, JobState.DEGRADED)
                await asyncio.sleep(delay)
                continue
            finally:
                if watch is not None:
                    watch.cancel()
            self._set(job, JobState.FINISHED)
            return

    async def _healthy_later(self, job: _Job) -> None:
        await asyncio.sleep(self._healthy_after)
        if job.state is JobState.DEGRADED:
            self._set(job, JobState.RUNNING)

    def _fail(self, job: _Job) -> None:
        if self._failed is not None and not self._failed.done():
            self._failed.set_result(job)

    def _set(self, job: _Job, state: JobState) -> None:
        if job.state is state:
            return
        job.state = state
        if self._on_change is not None:
            self._on_change(job.status())

    # ------------------------------------------------------------ stopping

    async def _stop_all(self) -> None:
        for group in self._stop_order:
            jobs = [job for job in self._jobs if job.group == group and job.task is not None]
            await asyncio.gather(*(self._stop(job) for job in jobs))

    async def _stop(self, job: _Job) -> None:
        task = job.task
        assert task is not None
        if not task.done() and job.stop is not None:
            job.stop()
            with contextlib.suppress(TimeoutError, Exception):
                async with asyncio.timeout(job.grace):
                    await asyncio.shield(task)
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if job.state is not JobState.FINISHED:
            self._set(job, JobState.STOPPED)


def _brief(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]
