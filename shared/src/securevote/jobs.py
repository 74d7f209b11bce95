"""Background jobs (scheduler, mail outbox, …): one definition, two ways to run.

A service offers a job as a :class:`Job` under the ``securevote.jobs`` entry point group.
``securevote jobs run NAME`` runs it once (a Kubernetes CronJob) or, with ``--loop``, every
``interval_seconds`` (a Deployment); the all-in-one process runs every installed job in the
background. A job must be safe to run in several processes at once: it claims its work with
the database (conditional updates, ``FOR UPDATE SKIP LOCKED``), never with memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import entry_points

from securevote.config import Settings
from securevote.db import Database
from securevote.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    run_once: Callable[[Database, Settings], Awaitable[int]]
    """Do the work that is due now; return how many items it handled."""
    interval_seconds: float
    description: str = ""


def installed_jobs() -> dict[str, Job]:
    jobs = {}
    for entry in entry_points(group="securevote.jobs"):
        job = entry.load()
        if not isinstance(job, Job):
            raise TypeError(f"entry point {entry.value} is not a securevote.jobs.Job")
        jobs[job.name] = job
    return jobs


async def run_once(job: Job, database: Database, settings: Settings) -> int:
    handled = await job.run_once(database, settings)
    log.info("job_ran", job=job.name, handled=handled)
    return handled


async def run_forever(job: Job, database: Database, settings: Settings) -> None:
    """Run ``job`` every ``interval_seconds`` until cancelled; a failing run is logged and
    retried at the next interval, so one bad run never stops the loop."""
    while True:
        try:
            await run_once(job, database, settings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # logged; the next run tries again
            log.error("job_failed", job=job.name, exc_info=exc)
        await asyncio.sleep(job.interval_seconds)
