"""Background jobs: a run that fails is logged and the loop goes on."""

from __future__ import annotations

import asyncio

from securevote import audit
from securevote.config import Settings
from securevote.db import Database
from securevote.jobs import Job, run_forever


async def test_the_loop_survives_a_failing_run(database: Database, settings: Settings) -> None:
    runs = 0
    four_runs = asyncio.Event()

    async def tick(db: Database, _settings: Settings) -> int:
        nonlocal runs
        runs += 1
        if runs == 2:
            raise RuntimeError("a run that fails")
        async with db.session() as session:
            await audit.record(session, service="test", actor="system:test", action="tick")
        if runs == 4:
            four_runs.set()
        return 1

    task = asyncio.create_task(
        run_forever(Job(name="tick", run_once=tick, interval_seconds=0.01), database, settings)
    )
    try:
        async with asyncio.timeout(10):
            await four_runs.wait()
    finally:
        task.cancel()
    async with database.session() as session:
        report = await audit.verify_chain(session)
    assert report.ok
    assert report.entries == 3  # runs 1, 3 and 4; run 2 failed
