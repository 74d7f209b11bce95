"""Benchmark of voter token redemption through the auth service (prints figures; asserts
nothing about time).

For a temporary SQLite file and a temporary PostgreSQL database (on ``BENCH_DATABASE_URL``,
else ``TEST_DATABASE_URL``, else the local server): migrates, fills the audit log with
AUDIT_ENTRIES chained entries (what an election of that many voters has written by midday:
invitations, redemptions), creates an open election, issues one voter token per redemption,
then, for each CONCURRENCY level, redeems fresh tokens over HTTP (the auth app in this
process, ``httpx.ASGITransport``) with that many clients at once, each voter from an address
of its own as the load test does. The rate limits are in Redis (``BENCH_REDIS_URL``, default
the local server) when it answers, else in process memory. Prints redemptions per second and
p50/p99 latency per level, and the load average: other work on the machine skews the figures.

Usage: uv run python benchmarks/redeem_bench.py [REDEMPTIONS] [CONCURRENCY,...] [AUDIT_ENTRIES]
       (default 200 redemptions per level, levels 1,8,32, 20000 audit entries)
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from asgi_lifespan import LifespanManager
from redis import asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from auth_service import voter_tokens
from auth_service.app import create_app
from auth_service.context import AuthContext
from auth_service.policy import AuthPolicy
from auth_service.roll_reader import election, voters_by_credential
from securevote import audit, migrations
from securevote.config import Settings
from securevote.db import Database
from securevote.logging import configure_logging

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


async def fill_audit_log(database: Database, entries: int) -> None:
    """``entries`` chained entries, as earlier work of the day left them."""
    prev = audit.GENESIS_HASH
    rows = []
    for number in range(entries):
        fields: dict[str, object] = {
            "occurred_at": datetime.now(UTC),
            "service": "auth",
            "actor": "system:bench",
            "action": "bench.fill",
            "target": f"entry:{number}",
            "outcome": "success",
            "details": {"number": number},
        }
        digest = audit.entry_hash(prev_hash=prev, **fields)  # type: ignore[arg-type]
        rows.append({**fields, "prev_hash": prev, "entry_hash": digest})
        prev = digest
    async with database.engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            await connection.execute(insert(audit.AuditEntry), rows[start : start + 5000])


async def open_election(database: Database, ctx: AuthContext, voters: int) -> list[str]:
    """An open election of ``voters`` voters, each with a current token; the raw tokens."""
    election_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    credentials = [secrets.token_hex(16) for _ in range(voters)]
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
                {"e": election_id, "m": f"v{i}@example.org", "c": credential}
                for i, credential in enumerate(credentials)
            ],
        )
        for state in ("frozen", "open"):
            await connection.execute(
                text("UPDATE elections SET state = :s WHERE id = :id"),
                {"s": state, "id": election_id},
            )
    async with database.session() as session:
        found = await election(session, election_id)
        assert found is not None
        roll = await voters_by_credential(session, election_id, credentials)
        issued = await voter_tokens.issue_many(
            session, ctx, election=found, voters=list(roll.values())
        )
    return [token.token for token in issued.values()]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def redeem_all(client: httpx.AsyncClient, tokens: list[str], concurrency: int) -> None:
    latencies: list[float] = []
    pending = iter(enumerate(tokens))

    async def one_client() -> None:
        for number, token in pending:  # shared iterator: each token is redeemed once
            started = time.perf_counter()
            response = await client.post(
                "/api/auth/voter/redeem",
                json={"token": token},
                headers={
                    "X-Forwarded-For": f"10.{number // 65536}.{number // 256 % 256}.{number % 256}"
                },
            )
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"redemption answered HTTP {response.status_code}")

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    print(
        f"  concurrency {concurrency:>3}: {len(tokens) / elapsed:7.1f} redemptions/s,"
        f" p50 {percentile(latencies, 0.5) * 1000:6.1f} ms,"
        f" p99 {percentile(latencies, 0.99) * 1000:6.1f} ms  ({load()})",
        flush=True,
    )


async def redis_url() -> str | None:
    url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    client = aioredis.Redis.from_url(url, socket_connect_timeout=1.0)
    try:
        await client.ping()
        return url
    except (RedisError, OSError):
        return None
    finally:
        await client.aclose()


async def forget_limits(url: str | None, namespace: str) -> None:
    """Delete the run's rate-limit keys (they would expire on their own within minutes)."""
    if url is None:
        return
    client = aioredis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{namespace}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def run(
    database_url: str, schema_label: str, redemptions: int, levels: list[int], entries: int
) -> None:
    settings = Settings(
        mode="test",  # type: ignore[arg-type]
        database_url=database_url,
        redis_url=await redis_url(),
        trusted_proxies="127.0.0.1",  # type: ignore[arg-type]
        log_level="WARNING",
    )
    await asyncio.to_thread(migrations.upgrade, settings)
    policy = replace(
        AuthPolicy.for_settings(settings), limits_namespace=f"bench-{secrets.token_hex(6)}"
    )
    app = create_app(settings, policy=policy)
    database: Database = app.state.database
    ctx: AuthContext = app.state.auth
    started = time.perf_counter()
    await fill_audit_log(database, entries)
    tokens = await open_election(database, ctx, redemptions * len(levels))
    print(
        f"{schema_label}: {entries:,} audit entries before, {len(tokens):,} voter tokens,"
        f" rate limits in {ctx.voter_limits.backend} (set up in"
        f" {time.perf_counter() - started:.1f} s)",
        flush=True,
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for index, concurrency in enumerate(levels):
                batch = tokens[index * redemptions : (index + 1) * redemptions]
                await redeem_all(client, batch, concurrency)
    async with database.session() as session:
        report = await audit.verify_chain(session)
    print(f"  audit chain: {report.entries:,} entries, intact: {report.ok}", flush=True)
    await database.dispose()
    await forget_limits(settings.redis_url, policy.limits_namespace)


async def main(redemptions: int, levels: list[int], entries: int) -> None:
    configure_logging("WARNING")  # not two log lines per redemption on the terminal
    print(f"redeem_bench: {redemptions} redemptions per level, {os.cpu_count()} cores, {load()}")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await run(url, "SQLite", redemptions, levels, entries)
    admin = make_url(
        os.environ.get("BENCH_DATABASE_URL")
        or os.environ.get("TEST_DATABASE_URL")
        or DEFAULT_POSTGRES
    )
    name = f"securevote_bench_redeem_{secrets.token_hex(4)}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    await connection.execute(f'CREATE DATABASE "{name}"')
    try:
        url = admin.set(database=name).render_as_string(hide_password=False)
        await run(url, "PostgreSQL", redemptions, levels, entries)
    finally:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    concurrency = [int(n) for n in (sys.argv[2] if len(sys.argv) > 2 else "1,8,32").split(",")]
    audit_entries = int(sys.argv[3]) if len(sys.argv) > 3 else 20_000
    asyncio.run(main(count, concurrency, audit_entries))
