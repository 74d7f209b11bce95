"""Benchmark of the voter roll import (prints figures; asserts nothing about time).

Imports a generated CSV of synthetic voters (with names, external ids and dates of birth)
into a fresh election, through the same function the API calls, on PostgreSQL (a temporary
database on ``BENCH_DATABASE_URL``, else ``TEST_DATABASE_URL``, else the local server) and on
a temporary SQLite file. Target (issue 4): 100,000 voters on PostgreSQL in at most 10 s.

Usage: uv run python benchmarks/roll_import_bench.py [VOTERS]   (default 100,000)
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from election_service import roll, service
from election_service.csv_roll import parse_roll
from election_service.schemas import ElectionCreate
from securevote import migrations
from securevote.config import Settings
from securevote.db import Database

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def synthetic_roll(count: int) -> bytes:
    lines = ["email;name;external_id;date_of_birth"]
    for i in range(count):
        lines.append(
            f"voter.{i}@example.org;Voter Nummer {i};EXT-{i:07d};"
            f"{1940 + i % 60}-{1 + i % 12:02d}-{1 + i % 28:02d}"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


async def import_once(settings: Settings, data: bytes) -> tuple[float, int]:
    database = Database(settings)
    now = datetime.now(UTC)
    try:
        async with database.session() as session:
            election_id = await service.create_election(
                session,
                organisation_id="bench",
                actor="admin:bench",
                data=ElectionCreate(
                    title="Benchmark",
                    time_zone="UTC",
                    opens_at=now + timedelta(days=1),
                    closes_at=now + timedelta(days=2),
                ),
                now=now,
            )
        started = time.perf_counter()
        async with database.session() as session:
            result = await roll.import_roll(
                session,
                organisation_id="bench",
                election_id=election_id,
                actor="admin:bench",
                data=data,
                server_secret=settings.secret_key_bytes,
                now=now,
            )
        return time.perf_counter() - started, result.imported
    finally:
        await database.dispose()


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def bench_postgres(data: bytes) -> tuple[float, int]:
    admin_url = os.environ.get(
        "BENCH_DATABASE_URL", os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES)
    )
    name = f"securevote_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        settings = Settings(mode="test", test_mode=True, database_url=url, log_level="WARNING")
        migrations.upgrade(settings)
        return asyncio.run(import_once(settings, data))
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def bench_sqlite(data: bytes) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        settings = Settings(mode="test", test_mode=True, database_url=url, log_level="WARNING")
        migrations.upgrade(settings)
        return asyncio.run(import_once(settings, data))


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    data = synthetic_roll(count)
    print(f"voter roll import: {count:,} rows, {len(data) / 1e6:.1f} MB CSV")
    started = time.perf_counter()
    parsed = parse_roll(data, today=datetime.now(UTC).date())
    print(f"{'parse and check only':<36} {time.perf_counter() - started:8.2f} s")
    assert len(parsed.rows) == count
    for label, run in (
        ("PostgreSQL (parse, check, insert)", bench_postgres),
        ("SQLite (parse, check, insert)", bench_sqlite),
    ):
        seconds, imported = run(data)
        assert imported == count
        print(f"{label:<36} {seconds:8.2f} s  ({count / seconds:,.0f} rows/s)")
    print("target: 100,000 rows on PostgreSQL in <= 10 s")


if __name__ == "__main__":
    main()
