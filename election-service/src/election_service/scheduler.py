"""Opens and closes elections at their times.

``run_due_transitions`` is idempotent and safe with several replicas running it at once:
each transition runs in its own transaction through ``lifecycle.transition``, whose
conditional update lets exactly one replica win; the others find the new state and skip.
``JOB`` offers it to ``securevote.jobs`` (``securevote jobs run election-scheduler`` once
for a cron job, or in a loop; the all-in-one process runs it in the background);
``scheduler_loop`` is the same loop without the job machinery.

A frozen election whose whole voting window passed without it being opened (no scheduler
ran in time) is left frozen and reported as ``missed``; it is never opened late.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from election_service.errors import ElectionError
from election_service.lifecycle import SCHEDULER_ACTOR, transition
from election_service.models import Election
from securevote.config import Settings
from securevote.db import Database
from securevote.jobs import Job
from securevote.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class ScheduledTransition:
    election_id: str
    transition: str  # "open", "close" or "missed"
    state: str  # the state afterwards


async def _due(database: Database, now: datetime) -> tuple[list[str], list[str], list[str]]:
    async with database.session() as session:
        to_open = await session.scalars(
            select(Election.id).where(
                Election.state == "frozen", Election.opens_at <= now, Election.closes_at > now
            )
        )
        to_close = await session.scalars(
            select(Election.id).where(Election.state == "open", Election.closes_at <= now)
        )
        missed = await session.scalars(
            select(Election.id).where(Election.state == "frozen", Election.closes_at <= now)
        )
        return list(to_open), list(to_close), list(missed)


async def _apply(database: Database, name: str, election_id: str, now: datetime) -> str | None:
    try:
        async with database.session() as session:
            election = await transition(
                session,
                name=name,
                election_id=election_id,
                organisation_id=None,
                actor=SCHEDULER_ACTOR,
                now=now,
                details={"scheduled": True},
            )
            return election.state
    except ElectionError:
        return None  # another replica (or an admin) got there first


async def run_due_transitions(database: Database, *, now: datetime) -> list[ScheduledTransition]:
    """Open every frozen election whose opening time has come and close every open one whose
    closing time has come, as of ``now``; returns what this call changed (and what it found
    missed)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    to_open, to_close, missed = await _due(database, now)
    done: list[ScheduledTransition] = []
    for name, ids in (("open", to_open), ("close", to_close)):
        for election_id in ids:
            state = await _apply(database, name, election_id, now)
            if state is not None:
                done.append(ScheduledTransition(election_id, name, state))
                log.info("election_transition", election_id=election_id, transition=name)
    for election_id in missed:
        log.warning("election_window_missed", election_id=election_id)
        done.append(ScheduledTransition(election_id, "missed", "frozen"))
    return done


async def scheduler_loop(database: Database, *, interval_seconds: float = 15.0) -> None:
    """Run ``run_due_transitions`` every ``interval_seconds`` until cancelled. A failing
    round is logged and retried at the next tick; it never ends the loop."""
    while True:
        try:
            await run_due_transitions(database, now=datetime.now(UTC))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("scheduler_round_failed", exc_info=exc)
        await asyncio.sleep(interval_seconds)


async def run_scheduler_job(database: Database, settings: Settings) -> int:
    """One round as a ``securevote.jobs`` job: how many elections it opened or closed."""
    done = await run_due_transitions(database, now=datetime.now(UTC))
    return sum(1 for step in done if step.transition != "missed")


JOB = Job(
    name="election-scheduler",
    run_once=run_scheduler_job,
    interval_seconds=15.0,
    description="open and close elections at their opening and closing times",
)
