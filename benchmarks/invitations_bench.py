"""Benchmark: invitations for N voters through a local SMTP server (aiosmtpd on loopback).

Prints figures; asserts nothing about time (target of issue 5: 10,000 voters in ≤ 60 s).

Usage: uv run python benchmarks/invitations_bench.py [VOTERS] [DATABASE_URL]
(default 10,000 voters on a temporary SQLite file; pass a postgresql+asyncpg:// URL of an
empty database to measure PostgreSQL).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import text

from auth_service import outbox
from auth_service.context import AuthContext
from securevote import migrations
from securevote.config import Settings
from securevote.db import Database


class CountingSink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _roll(database: Database, voters: int) -> str:
    election_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with database.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO elections (id, organisation_id, title, description, time_zone,"
                " opens_at, closes_at, allow_revoting, second_factor, state, created_by,"
                " created_at, updated_at) VALUES (:id, 'org', 'Benchmark', '', 'UTC', :o, :c,"
                " true, 'none', 'draft', 'bench', :n, :n)"
            ),
            {"id": election_id, "o": now, "c": now + timedelta(days=1), "n": now},
        )
        await connection.execute(
            text(
                "INSERT INTO voters (election_id, email, email_key, credential)"
                " VALUES (:e, :m, :m, :c)"
            ),
            [
                {"e": election_id, "m": f"v{i}@example.org", "c": secrets.token_hex(16)}
                for i in range(voters)
            ],
        )
        for state in ("frozen", "open"):
            await connection.execute(
                text("UPDATE elections SET state = :s WHERE id = :id"),
                {"s": state, "id": election_id},
            )
    return election_id


async def main(voters: int, url: str | None) -> None:
    folder = tempfile.mkdtemp()
    sink = CountingSink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings = Settings(
        mode="test",  # type: ignore[arg-type]
        database_url=url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        log_level="WARNING",
    )
    await asyncio.to_thread(migrations.upgrade, settings)
    database = Database(settings)
    ctx = AuthContext.build(settings=settings, database=database)
    try:
        await _roll(database, voters)
        start = time.perf_counter()
        queued = await outbox.enqueue_invitations(ctx)
        queued_at = time.perf_counter()
        totals = await outbox.run_until_idle(ctx)
        done = time.perf_counter()
        print(f"database                       {database.dialect}")
        print(f"voters                         {voters:>10,}")
        print(f"enqueue                        {queued_at - start:10.2f} s ({queued:,} queued)")
        print(f"issue + send                   {done - queued_at:10.2f} s ({totals})")
        print(f"total                          {done - start:10.2f} s")
        print(f"mails per second               {voters / (done - start):10.0f}")
        print(f"received by the SMTP server    {sink.count:>10,}")
    finally:
        await ctx.aclose()
        await database.dispose()
        controller.stop()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    asyncio.run(main(count, sys.argv[2] if len(sys.argv) > 2 else None))
