"""Benchmark of casting through the voting service (prints figures; asserts nothing about time).

For PostgreSQL (a temporary database on ``BENCH_DATABASE_URL``, else ``TEST_DATABASE_URL``,
else the local server) and a temporary SQLite file: migrates, creates an open election with a
real 2-of-3 context, encrypts one ballot per voter, starts ``securevote serve voting`` on a
loopback port and casts every ballot over HTTP with CONCURRENCY clients. Prints casts per
second, p50/p99 latency, and next to it the pure proof-verification rate measured in the same
run on the same ballots, twice: on one core (one thread, in this process, before the service
starts: the issue's reference, target cast rate >= 50% of it) and with one thread per core.
The service runs as deployed: one process, which checks ballots in one worker process
(SECUREVOTE_VERIFY_PROCESSES=1), so verification has one core as in the reference. The
service, PostgreSQL and this client share the machine's cores; the CPU each used per cast is
printed (the service's with its worker). Then looks up trackers (inclusion proof under the
latest head) and times that.

On PostgreSQL it then grows the board to 1M leaves (synthetic trackers, COPY) and times
look-ups of trackers with their inclusion proofs over HTTP, p50/p99 (target: <= 5 ms).
Every section prints the load average: other work on the machine skews the figures.

Usage: uv run python benchmarks/cast_bench.py [VOTERS] [CONCURRENCY] [BIG_BOARD]
       (default 1000, 16, 1000000; BIG_BOARD 0 skips the big board)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import update
from sqlalchemy.engine import make_url

from election_service.models import Election
from securevote import migrations
from securevote.auth import signer_from_settings
from securevote.ballots import (
    ElectionContext,
    EncryptedBallot,
    Manifest,
    OptionDefinition,
    QuestionDefinition,
    ballot_problems,
    encrypt_ballot,
)
from securevote.config import Settings
from securevote.crypto.merkle import MerkleTree, leaf_hash
from securevote.crypto.threshold import (
    CeremonyParameters,
    TrusteeIdentity,
    deal,
    generate_box_keypair,
)
from securevote.db import Database
from securevote.record import trustees_document

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
ELECTION_ID = "bench"


def make_context() -> ElectionContext:
    options = tuple(OptionDefinition(id=f"o{i}", label=f"Option {i}") for i in range(1, 5))
    manifest = Manifest(
        election_id=ELECTION_ID,
        title="Benchmark",
        questions=(
            QuestionDefinition(
                id="chair", label="Chair", options=options, min_selections=1, max_selections=1
            ),
            QuestionDefinition(
                id="board", label="Board", options=options, min_selections=0, max_selections=2
            ),
        ),
    )
    boxes = {i: generate_box_keypair() for i in (1, 2, 3)}
    trustees = tuple(TrusteeIdentity(i, f"trustee-{i}", boxes[i][0]) for i in boxes)
    params = CeremonyParameters(
        manifest_hash=manifest.manifest_hash, threshold=2, trustees=trustees
    )
    commitments = tuple(deal(params=params, index=i).commitment for i in boxes)
    return ElectionContext(manifest, 2, trustees, commitments)


async def create_election(settings: Settings, context: ElectionContext) -> None:
    database = Database(settings)
    now = datetime.now(UTC)
    try:
        async with database.session() as session:
            session.add(
                Election(
                    id=ELECTION_ID,
                    organisation_id="bench",
                    title="Benchmark",
                    description="",
                    time_zone="UTC",
                    opens_at=now - timedelta(hours=1),
                    closes_at=now + timedelta(days=1),
                    allow_revoting=False,
                    second_factor="none",
                    state="draft",
                    trustee_count=3,
                    threshold=2,
                    context_document={
                        "manifest": context.manifest.to_json(),
                        "trustees": trustees_document(context),
                        "threshold": context.threshold,
                    },
                    election_hash=context.election_hash.hex(),
                    created_by="bench",
                    created_at=now,
                    updated_at=now,
                )
            )
        for state in ("frozen", "open"):
            async with database.session() as session:
                await session.execute(
                    update(Election).where(Election.id == ELECTION_ID).values(state=state)
                )
    finally:
        await database.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_service(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREVOTE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        SECUREVOTE_MODE="test",
        TEST_MODE="true",
        SECUREVOTE_DATABASE_URL=settings.database_url,
        SECUREVOTE_LOG_LEVEL="WARNING",
        SECUREVOTE_DATABASE_POOL_SIZE="20",
        SECUREVOTE_VERIFY_PROCESSES="1",  # as compose and Kubernetes run it
    )
    if settings.database_schema:
        env["SECUREVOTE_DATABASE_SCHEMA"] = settings.database_schema
    process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        [
            sys.executable,
            "-m",
            "securevote.cli",
            "serve",
            "voting",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return process
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the voting service did not start") from None
            time.sleep(0.1)


def cast_requests(port: int, work: list[tuple[str, EncryptedBallot]]) -> list[bytes]:
    """Every cast as the bytes of its HTTP/1.1 request, encoded before the clock starts: the
    load generator shares the machine's cores with the service and PostgreSQL, so it does
    as little per request as it can (no HTTP client library, no JSON encoding on the way)."""
    requests = []
    for token, ballot in work:
        body = json.dumps({"ballot": ballot.to_json()}, separators=(",", ":")).encode()
        head = (
            f"POST /api/ballots/elections/{ELECTION_ID}/cast HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\n"
            f"Idempotency-Key: {secrets.token_urlsafe(16)}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


async def cast_all(
    port: int, requests: list[bytes], concurrency: int
) -> tuple[float, list[float], int]:
    """Send the requests over ``concurrency`` keep-alive connections; (seconds, latencies,
    number of answers other than 201)."""
    pending = iter(requests)
    latencies: list[float] = []
    failures = 0

    async def client_loop() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in pending:
                started = time.perf_counter()
                writer.write(request)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                failures += status_line.split()[1] != b"201"
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, failures


class CpuMeter:
    """CPU seconds used by the service process with its children (the verification worker),
    this process and PostgreSQL's processes since it was made (from /proc; zeros where there
    is no /proc)."""

    def __init__(self, service_pid: int) -> None:
        self.service_pid = service_pid
        self.before = self._now()

    def _now(self) -> tuple[float, float, float]:
        return (
            sum(_process_cpu(pid) for pid in [self.service_pid, *_children(self.service_pid)]),
            _process_cpu(os.getpid()),
            sum(_process_cpu(pid) for pid in _pids_named("postgres")),
        )

    def per_cast_ms(self, casts: int) -> tuple[float, float, float]:
        after = self._now()
        service, client, postgres = (
            (end - begin) / casts * 1000 for begin, end in zip(self.before, after, strict=True)
        )
        return service, client, postgres


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").glob("[0-9]*/stat") if Path("/proc").is_dir() else ():
        try:
            if int(entry.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                children.append(int(entry.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return children


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").glob("[0-9]*/comm") if Path("/proc").is_dir() else ():
        try:
            if entry.read_text().strip() == name:
                pids.append(int(entry.parent.name))
        except OSError:
            continue
    return pids


async def lookups(base: str, trackers: list[bytes]) -> list[float]:
    """Look the trackers up one after the other (one client); the time of each."""
    times = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for tracker in trackers:
            started = time.perf_counter()
            response = await client.get(
                f"/api/ballots/elections/{ELECTION_ID}/board/trackers/{tracker.hex()}"
            )
            times.append(time.perf_counter() - started)
            assert response.status_code == 200
    return times


def load() -> str:
    return "load average " + " ".join(f"{value:.1f}" for value in os.getloadavg())


def print_lookups(label: str, times: list[float]) -> None:
    print(
        f"{label:42s}{percentile(times, 0.5) * 1000:8.2f} / "
        f"{percentile(times, 0.99) * 1000:.2f} ms p50 / p99 over {len(times)}  ({load()})"
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def grow_board(settings: Settings, extra: int) -> list[bytes]:
    """Append ``extra`` synthetic leaves (random trackers; ballot text '{}') to the board with
    COPY, after the real ballots: the tree and proofs are the same work as for real ones.
    Then VACUUM. Returns 200 of the synthetic trackers, spread over the board."""
    dsn = make_url(settings.database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        async with connection.transaction():
            size = await connection.fetchval(
                "SELECT size FROM board_state WHERE election_id = $1 FOR UPDATE", ELECTION_ID
            )
            records = []
            for index in range(size, size + extra):
                tracker = secrets.token_bytes(32)
                records.append(
                    (ELECTION_ID, index, f"synthetic-{index}", tracker, leaf_hash(tracker), "{}")
                )
            await connection.copy_records_to_table(
                "ballots",
                records=records,
                columns=[
                    "election_id",
                    "board_index",
                    "credential",
                    "tracker",
                    "leaf_hash",
                    "ballot",
                ],
            )
            await connection.execute(
                "UPDATE board_state SET size = $2 WHERE election_id = $1",
                ELECTION_ID,
                size + extra,
            )
        # A real board grows for hours and autovacuum keeps up with it; after one bulk COPY it
        # would vacuum (and fill the disk queue) in the middle of the look-ups timed below.
        await connection.execute("VACUUM (ANALYZE) ballots")
    finally:
        await connection.close()
    return [record[3] for record in random.sample(records, min(200, len(records)))]


def big_board(base: str, settings: Settings, trackers: list[bytes], extra: int) -> None:
    started = time.perf_counter()
    synthetic = asyncio.run(grow_board(settings, extra))
    print(f"board grown by {extra} leaves (COPY, VACUUM) {time.perf_counter() - started:8.2f} s")
    started = time.perf_counter()
    response = httpx.get(
        f"{base}/api/ballots/elections/{ELECTION_ID}/board/heads/latest", timeout=120
    )
    assert response.status_code == 200
    size = response.json()["head"]["size"]
    print(
        f"first head over the big board (loads tree) {time.perf_counter() - started:8.2f} s"
        f"  (size {size})"
    )
    sample = trackers + synthetic
    asyncio.run(lookups(base, sample[:20]))  # warm up the connections
    times = asyncio.run(lookups(base, sample * 2))
    print_lookups(f"tracker look-up, board of {size} (HTTP)", times)
    tree = MerkleTree([secrets.token_bytes(32) for _ in range(extra)])
    started = time.perf_counter()
    for index in range(0, extra, max(1, extra // 1000)):
        tree.inclusion_proof(index)
    count = len(range(0, extra, max(1, extra // 1000)))
    each = (time.perf_counter() - started) / count * 1e6
    print(f"inclusion proof alone (in process)        {each:8.1f} µs each, board of {extra}")


def verification_rates(
    ballots: list[EncryptedBallot], context: ElectionContext
) -> tuple[float, float]:
    """Ballots verified per second: in one thread, then with one thread per core."""

    def verify(ballot: EncryptedBallot) -> None:
        assert not ballot_problems(
            ballot,
            manifest=context.manifest,
            public_key=context.joint_key,
            election_hash=context.election_hash,
            credential=ballot.credential,
        )

    started = time.perf_counter()
    for ballot in ballots:
        verify(ballot)
    one = len(ballots) / (time.perf_counter() - started)
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        started = time.perf_counter()
        list(pool.map(verify, ballots))
        every = len(ballots) / (time.perf_counter() - started)
    return one, every


def run(label: str, settings: Settings, voters: int, concurrency: int, extra: int = 0) -> None:
    print(f"\n== {label}: {voters} voters, {concurrency} concurrent clients")
    migrations.upgrade(settings)
    context = make_context()
    asyncio.run(create_election(settings, context))
    signer = signer_from_settings(settings)
    started = time.perf_counter()
    work = []
    for i in range(voters):
        credential = f"bench-{i}-{secrets.token_hex(4)}"
        token = signer.issue(
            {"sub": f"v{i}", "kind": "voter", "eid": ELECTION_ID, "cred": credential},
            ttl_seconds=3600,
        )
        ballot, _ = encrypt_ballot(
            manifest=context.manifest,
            public_key=context.joint_key,
            election_hash=context.election_hash,
            credential=credential,
            choices={"chair": ["o1"], "board": ["o2", "o3"]},
        )
        work.append((token, ballot))
    print(f"encrypting {voters} ballots (client side)   {time.perf_counter() - started:8.2f} s")

    sample = [ballot for _, ballot in work[: min(200, voters)]]
    verify_rate, verify_all = verification_rates(sample, context)
    cores = os.cpu_count()
    print(f"pure proof verification, 1 thread         {verify_rate:8.1f} ballots/s  ({load()})")
    print(f"pure proof verification, {cores} threads        {verify_all:8.1f} ballots/s")

    port = free_port()
    process = start_service(settings, port)
    base = f"http://127.0.0.1:{port}"
    requests = cast_requests(port, work)
    try:
        meter = CpuMeter(process.pid)
        elapsed, latencies, failures = asyncio.run(cast_all(port, requests, concurrency))
        service_ms, client_ms, postgres_ms = meter.per_cast_ms(voters)
        rate = voters / elapsed
        print(
            f"casts through the service (+ 1 worker)    {rate:8.1f} casts/s  ({load()})\n"
            f"  = {rate / verify_rate:.0%} of the 1-thread verification rate (target >= 50%),"
            f" {rate / verify_all:.0%} of the {cores}-thread one"
        )
        print(
            f"cast latency p50 / p99                    {percentile(latencies, 0.5) * 1000:8.1f}"
            f" / {percentile(latencies, 0.99) * 1000:.1f} ms"
        )
        print(
            f"CPU per cast: service / client / PostgreSQL{service_ms:8.2f} / {client_ms:.2f} / "
            f"{postgres_ms:.2f} ms  (1 thread verifies one in {1000 / verify_rate:.2f} ms)"
        )
        print(f"failed casts                              {failures:8d}")
        trackers = [ballot.tracker for _, ballot in work[:: max(1, voters // 50)]]
        times = asyncio.run(lookups(base, trackers * 4))
        print_lookups(f"tracker look-up, board of {voters} (HTTP)", times)
        if extra:
            big_board(base, settings, trackers, extra)
    finally:
        process.terminate()
        process.wait(timeout=10)


def postgres_settings() -> tuple[Settings, str, str]:
    admin_url = os.environ.get(
        "BENCH_DATABASE_URL", os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES)
    )
    name = f"securevote_bench_{secrets.token_hex(4)}"
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def execute(sql: str) -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    settings = Settings(mode="test", test_mode=True, database_url=url, log_level="WARNING")
    return settings, dsn, name


def main() -> None:
    voters = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    extra = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    settings, dsn, name = postgres_settings()
    try:
        run("PostgreSQL", settings, voters, concurrency, extra)
    finally:

        async def drop() -> None:
            connection = await asyncpg.connect(dsn)
            try:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await connection.close()

        asyncio.run(drop())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        sqlite = Settings(
            mode="test",
            test_mode=True,
            database_url=f"sqlite+aiosqlite:///{path}",
            log_level="WARNING",
        )
        run("SQLite", sqlite, voters, concurrency)


if __name__ == "__main__":
    main()
