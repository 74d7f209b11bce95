"""A whole election on the local cluster, with a voting replica killed mid-stream.

The cluster is the one ``make cluster-up`` starts (``deploy/local-cluster/cluster.sh``): two
replicas of each service and the background jobs as real processes on a PostgreSQL database
of their own, behind Debian's nginx. Through nginx only, as an organiser and voters would:
an owner (``securevote admin create``) prepares an election of synthetic voters with the
load test's setup script (``benchmarks/load/setup_election.py``: server trustee, roll,
invitations from the dev mailbox, ballots encrypted with their proofs); the voters redeem
their links and cast concurrently, and in the middle of that stream one voting replica is
killed with SIGKILL. Then:

- every acknowledged ballot (a receipt whose signature and inclusion proof verify) is on the
  board exactly once, at the index its receipt names; no tracker is on the board twice;
- board size = acknowledged casts + casts that got no answer but did land (each looked up by
  its tracker and counted, never assumed either way); nothing else is on the board;
- every unanswered cast, retried with its Idempotency-Key, gets the receipt of the ballot that
  landed (replayed, nothing new) or is cast now: every voter ends with exactly one ballot;
- close, seal, tally, decrypt (server trustee), publish: the result is the plain count of the
  choices and the downloaded election record verifies completely.

It needs nginx (``make test-deps`` installs Debian's package), PostgreSQL and Redis.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from securevote import voter as voter_client
from securevote.verify import verify_record
from securevote_server.demo import Admin

ROOT = Path(__file__).resolve().parents[1]
CLUSTER_SCRIPT = ROOT / "deploy" / "local-cluster" / "cluster.sh"
SETUP_SCRIPT = ROOT / "benchmarks" / "load" / "setup_election.py"
VOTERS = 80
KILL_AFTER_ACKNOWLEDGED = 25  # the stream is a third through when the replica dies
CONCURRENCY = 12
OWNER = "owner@example.org"


@dataclass(frozen=True)
class Cluster:
    url: str
    run_dir: Path
    environment: dict[str, str]

    def pid(self, process: str) -> int:
        return int((self.run_dir / "pids" / f"{process}.pid").read_text())

    def port(self, process: str) -> int:
        command = (Path("/proc") / str(self.pid(process)) / "cmdline").read_bytes().split(b"\0")
        return int(command[command.index(b"--port") + 1])


def _free_port_block() -> int:
    """A gateway port whose whole block (cluster.sh: PORT .. PORT+52) is free on loopback."""
    for _ in range(50):
        base = 20000 + secrets.randbelow(400) * 100
        ports = [base + s for s in range(6)] + [
            base + 10 * s + r for s in range(1, 6) for r in (1, 2)
        ]
        try:
            for port in ports:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError("no free block of ports on loopback")


def _environment(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECUREVOTE_", "CLUSTER_")) and k not in {"DATABASE_URL", "TEST_MODE"}
    }
    env.update(extra)
    return env


def _cluster_logs(run_dir: Path) -> str:
    logs = sorted((run_dir / "logs").glob("*.log"))
    return "\n".join(
        f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-15:]) for log in logs
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        raise AssertionError("nginx is missing: `make test-deps` installs Debian's package")
    server = make_url(
        os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    )
    run_dir = tmp_path_factory.mktemp("cluster")
    env = _environment(
        CLUSTER_PORT=str(_free_port_block()),
        CLUSTER_DIR=str(run_dir),
        CLUSTER_DATABASE=f"securevote_cluster_{secrets.token_hex(4)}",
        SECUREVOTE_LOG_LEVEL="WARNING",
        PGHOST=server.host or "127.0.0.1",
        PGPORT=str(server.port or 5432),
        PGUSER=server.username or "postgres",
        **({"PGPASSWORD": server.password} if server.password else {}),
    )
    try:
        started = subprocess.run(
            ["bash", str(CLUSTER_SCRIPT), "up"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert started.returncode == 0, (
            f"cluster.sh up failed:\n{started.stdout}{started.stderr}\n{_cluster_logs(run_dir)}"
        )
        lines = (run_dir / "cluster.env").read_text().splitlines()
        cluster_env = dict(line.split("=", 1) for line in lines if "=" in line)
        yield Cluster(cluster_env["CLUSTER_URL"], run_dir, _environment(**cluster_env))
    finally:
        subprocess.run(
            ["bash", str(CLUSTER_SCRIPT), "down", "--drop-database"],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )


# --- casting -------------------------------------------------------------------------------


@dataclass
class Cast:
    """One voter's cast, sent once with its Idempotency-Key (and retried with the same key)."""

    voter: dict[str, Any]
    session: str
    key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    status: int | None = None  # None: no HTTP answer at all
    replayed: bool = False
    receipt: voter_client.Receipt | None = None

    @property
    def tracker(self) -> str:
        return str(self.voter["tracker"])

    @property
    def body(self) -> bytes:
        return json.dumps({"ballot": self.voter["ballot"]}).encode()


def send(http: httpx.Client, election_id: str, cast: Cast, board_key: bytes) -> None:
    """POST the ballot through the gateway; keep the receipt only if it checks out."""
    cast.status, cast.receipt = None, None
    try:
        response = http.post(
            f"/api/ballots/elections/{election_id}/cast",
            content=cast.body,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {cast.session}",
                "Idempotency-Key": cast.key,
                "X-Forwarded-For": cast.voter["address"],
            },
        )
    except httpx.TransportError:
        return
    cast.status = response.status_code
    if response.status_code not in (200, 201):
        return
    cast.replayed = response.headers.get("Idempotent-Replayed") == "true"
    document = response.json()
    receipt = voter_client.Receipt.from_json(document["receipt"])
    proof = [bytes.fromhex(node) for node in document["inclusion_proof"]]
    assert receipt.tracker.hex() == cast.tracker
    assert voter_client.verify_receipt(receipt, board_key)
    assert voter_client.check_receipt_inclusion(receipt, proof)
    cast.receipt = receipt


def redeem(http: httpx.Client, voter: dict[str, Any]) -> str:
    response = http.post(
        "/api/auth/voter/redeem",
        json={"token": voter["token"]},
        headers={"X-Forwarded-For": voter["address"]},
    )
    assert response.status_code == 200, response.status_code
    return str(response.json()["session_token"])


def board_entries(http: httpx.Client, election_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after: int | None = -1
    while after is not None:
        page = http.get(
            f"/api/ballots/elections/{election_id}/board/ballots",
            params={"after": after, "limit": 1000},
        ).json()
        entries += page["entries"]
        after = page["next_after"]
    return entries


def on_board(http: httpx.Client, election_id: str, tracker: str) -> bool:
    response = http.get(f"/api/ballots/elections/{election_id}/board/trackers/{tracker}")
    assert response.status_code in (200, 404), response.status_code
    return response.status_code == 200


def dead(pid: int) -> bool:
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"  # a zombie: killed, not yet reaped


def cast_responses(access_log: Path, election_id: str) -> list[tuple[float, int, str]]:
    """(time, status, the replica that answered) of every cast nginx passed on."""
    pattern = re.compile(
        rf"msec=(\S+) POST /api/ballots/elections/{election_id}/cast (\d+) upstream=(.+?) "
        r"upstream_status="
    )
    found = []
    for line in access_log.read_text().splitlines():
        if match := pattern.search(line):
            last_upstream = match.group(3).split(", ")[-1]
            found.append((float(match.group(1)), int(match.group(2)), last_upstream))
    return found


# --- the test ------------------------------------------------------------------------------


@pytest.fixture
def http(cluster: Cluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.url, timeout=60) as client:
        yield client


def test_an_election_survives_a_voting_replica_killed_mid_stream(
    cluster: Cluster, http: httpx.Client, tmp_path: Path
) -> None:
    password = secrets.token_urlsafe(18)
    created = subprocess.run(
        [sys.executable, "-m", "securevote.cli", "admin", "create", "--organisation",
         "Cluster test", "--email", OWNER, "--password-stdin"],
        input=password + "\n",
        env=cluster.environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    voters_file = tmp_path / "voters.json"
    setup = subprocess.run(
        [sys.executable, str(SETUP_SCRIPT), "--url", cluster.url, "--owner-email", OWNER,
         "--voters", str(VOTERS), "--seed", "9", "--out", str(voters_file)],
        env={**cluster.environment, "SECUREVOTE_LOAD_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert setup.returncode == 0, setup.stdout + setup.stderr
    prepared = json.loads(voters_file.read_text())
    election_id = prepared["election_id"]
    voters = prepared["voters"]
    assert len(voters) == VOTERS

    admin = Admin(http, OWNER, password)
    public = voter_client.fetch_context(http, election_id)
    casts = [Cast(voter, redeem(http, voter)) for voter in voters]

    # The stream: CONCURRENCY voters at a time, each thread with its own connection to
    # nginx; voting-1 dies once KILL_AFTER_ACKNOWLEDGED receipts have come back, with other
    # casts in flight or still to come.
    victim = cluster.pid("voting-1")
    victim_port = cluster.port("voting-1")
    acknowledged = in_flight = 0
    lock = threading.Lock()
    time_to_kill = threading.Event()
    local = threading.local()
    clients: list[httpx.Client] = []

    def cast_one(cast: Cast) -> None:
        nonlocal acknowledged, in_flight
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=cluster.url, timeout=60)
            clients.append(local.http)
        with lock:
            in_flight += 1
        send(local.http, election_id, cast, public.board_public_key)
        with lock:
            in_flight -= 1
            acknowledged += cast.receipt is not None
            if acknowledged >= KILL_AFTER_ACKNOWLEDGED:
                time_to_kill.set()

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        futures = [pool.submit(cast_one, cast) for cast in casts]
        assert time_to_kill.wait(timeout=120), "the stream stalled before the kill"
        os.kill(victim, signal.SIGKILL)
        killed_at = time.time()
        in_flight_at_kill = in_flight
        for future in futures:
            future.result()
    for client in clients:
        client.close()
    assert dead(victim)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{victim_port}/health", timeout=5)

    # nginx's view: the victim answered casts before it died, the other replica after.
    served = cast_responses(cluster.run_dir / "logs" / "nginx-access.log", election_id)
    victim_address = f"127.0.0.1:{victim_port}"
    assert any(upstream == victim_address for when, _, upstream in served if when < killed_at)
    assert any(
        status == 201 and upstream != victim_address
        for when, status, upstream in served
        if when > killed_at
    )

    # Every cast either has a verified receipt or got no answer (a gateway error, never a
    # refusal); an unanswered one is looked up on the board, not assumed either way.
    acknowledged_casts = [c for c in casts if c.receipt is not None]
    unanswered = [c for c in casts if c.receipt is None]
    assert all(c.status is None or c.status >= 500 for c in unanswered), [
        c.status for c in unanswered
    ]
    landed = [c for c in unanswered if on_board(http, election_id, c.tracker)]
    entries = board_entries(http, election_id)
    trackers = [entry["tracker"] for entry in entries]
    print(
        f"\n{len(casts)} casts through nginx; voting-1 killed after {KILL_AFTER_ACKNOWLEDGED} "
        f"receipts, {in_flight_at_kill} casts in flight: {len(acknowledged_casts)} acknowledged, "
        f"{len(unanswered)} unanswered ({len(landed)} of them landed); board {len(entries)}"
    )
    assert len(set(trackers)) == len(trackers), "a tracker is on the board twice"
    index_of = {entry["tracker"]: entry["board_index"] for entry in entries}
    for cast in acknowledged_casts:
        assert cast.receipt is not None
        assert index_of.get(cast.tracker) == cast.receipt.board_index
    assert len(entries) == len(acknowledged_casts) + len(landed)
    assert set(trackers) == {c.tracker for c in acknowledged_casts} | {c.tracker for c in landed}

    # The voters whose cast got no answer retry with the same key: a landed ballot's receipt
    # comes back (nothing new), the others are cast now.
    for cast in unanswered:
        send(http, election_id, cast, public.board_public_key)
        assert cast.receipt is not None, cast.status
        if cast in landed:
            assert cast.status == 200 and cast.replayed
            assert cast.receipt.board_index == index_of[cast.tracker]
        else:
            assert cast.status == 201
    entries = board_entries(http, election_id)
    trackers = [entry["tracker"] for entry in entries]
    assert sorted(trackers) == sorted(c.tracker for c in casts)
    assert sorted(entry["board_index"] for entry in entries) == list(range(VOTERS))

    # Close, seal, tally (the server trustee decrypts), publish, verify the record.
    base = f"/api/elections/{election_id}"
    results_base = f"/api/results/elections/{election_id}"
    admin.call("POST", f"{base}/close")
    sealed = admin.call("POST", f"/api/ballots/elections/{election_id}/board/seal")
    assert sealed["head"]["size"] == VOTERS
    admin.call("POST", f"{results_base}/tally")
    deadline = time.monotonic() + 180
    while not (progress := admin.call("GET", f"{results_base}/tally"))["decrypted"]:
        assert time.monotonic() < deadline, progress
        time.sleep(1)
    admin.call("POST", f"{results_base}/publish")
    results = http.get(f"{results_base}/results").json()
    assert results["turnout"]["counted_ballots"] == VOTERS
    plain = Counter(
        (question, option)
        for voter in voters
        for question, options in voter["choices"].items()
        for option in options
    )
    for question in results["questions"]:
        for option in question["options"]:
            assert option["count"] == plain[(question["question"], option["option"])]
    record = http.get(f"{results_base}/record")
    assert record.status_code == 200
    record_path = tmp_path / "record.zip"
    record_path.write_bytes(record.content)
    report = verify_record(record_path, workers=1)
    assert report.ok, [f"{c.name}: {c.detail}" for c in report.failures]
