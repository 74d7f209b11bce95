"""The scheduler opens and closes elections at their times, once, with several replicas."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import select

from election_service.scheduler import (
    JOB,
    ScheduledTransition,
    run_due_transitions,
    scheduler_loop,
)
from securevote.audit import AuditEntry
from securevote.db import Database

from .conftest import Builder

OPENS = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
CLOSES = OPENS + timedelta(hours=8)


async def _state(build: Builder, election_id: str) -> str:
    response = await build.client.get(f"/api/elections/{election_id}", headers=build.headers)
    return str(response.json()["state"])


async def test_opens_and_closes_on_time(app: FastAPI, build: Builder) -> None:
    database: Database = app.state.database
    election_id = await build.frozen(opens_at=OPENS.isoformat(), closes_at=CLOSES.isoformat())
    second = timedelta(seconds=1)

    assert await run_due_transitions(database, now=OPENS - second) == []
    assert await _state(build, election_id) == "frozen"

    assert await run_due_transitions(database, now=OPENS) == [
        ScheduledTransition(election_id, "open", "open")
    ]
    assert await _state(build, election_id) == "open"
    assert await run_due_transitions(database, now=OPENS + second) == []

    assert await run_due_transitions(database, now=CLOSES - second) == []
    assert await run_due_transitions(database, now=CLOSES) == [
        ScheduledTransition(election_id, "close", "closed")
    ]
    assert await _state(build, election_id) == "closed"
    assert await run_due_transitions(database, now=CLOSES + timedelta(days=1)) == []

    async with database.session() as session:
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.actor == "system:scheduler")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(e.action, e.target, e.details["scheduled"]) for e in entries] == [
        ("election.open", f"election:{election_id}", True),
        ("election.close", f"election:{election_id}", True),
    ]


async def test_drafts_are_never_opened(app: FastAPI, build: Builder) -> None:
    election_id = await build.ready(opens_at=OPENS.isoformat(), closes_at=CLOSES.isoformat())
    assert await run_due_transitions(app.state.database, now=OPENS + timedelta(hours=1)) == []
    assert await _state(build, election_id) == "draft"


async def test_a_missed_window_is_reported_and_never_opened_late(
    app: FastAPI, build: Builder
) -> None:
    election_id = await build.frozen(opens_at=OPENS.isoformat(), closes_at=CLOSES.isoformat())
    late = CLOSES + timedelta(minutes=1)
    assert await run_due_transitions(app.state.database, now=late) == [
        ScheduledTransition(election_id, "missed", "frozen")
    ]
    assert await _state(build, election_id) == "frozen"


async def test_replicas_running_at_once_transition_each_election_once(
    app: FastAPI, build: Builder
) -> None:
    ids = [
        await build.frozen(opens_at=OPENS.isoformat(), closes_at=CLOSES.isoformat())
        for _ in range(3)
    ]
    replicas = [Database(app.state.database.settings) for _ in range(3)]
    try:
        rounds = await asyncio.gather(*(run_due_transitions(db, now=OPENS) for db in replicas))
        opened = sorted(t.election_id for done in rounds for t in done)
        assert opened == sorted(ids)
        closing = await asyncio.gather(*(run_due_transitions(db, now=CLOSES) for db in replicas))
        assert sorted(t.election_id for done in closing for t in done) == sorted(ids)
    finally:
        for db in replicas:
            await db.dispose()
    for election_id in ids:
        assert await _state(build, election_id) == "closed"


async def test_the_loop_opens_a_due_election_and_stops_when_cancelled(
    app: FastAPI, build: Builder
) -> None:
    now = datetime.now(UTC)
    election_id = await build.frozen(
        opens_at=(now - timedelta(minutes=1)).isoformat(),
        closes_at=(now + timedelta(hours=1)).isoformat(),
    )
    task = asyncio.create_task(scheduler_loop(app.state.database, interval_seconds=0.01))
    try:
        for _ in range(500):  # polls until the loop's first round is done (at most ~5 s)
            if await _state(build, election_id) == "open":
                break
            await asyncio.sleep(0.01)
        assert await _state(build, election_id) == "open"
        assert not task.done()  # the loop keeps running after a round
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert task.cancelled()


async def test_the_job_opens_what_is_due_now(app: FastAPI, build: Builder) -> None:
    now = datetime.now(UTC)
    election_id = await build.frozen(
        opens_at=(now - timedelta(minutes=1)).isoformat(),
        closes_at=(now + timedelta(hours=1)).isoformat(),
    )
    database: Database = app.state.database
    assert await JOB.run_once(database, database.settings) == 1
    assert await JOB.run_once(database, database.settings) == 0
    assert await _state(build, election_id) == "open"
