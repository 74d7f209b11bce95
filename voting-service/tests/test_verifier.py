"""The verifier's worker processes: they check ballots, stop with the service, and do not
outlive a service process that was killed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from voting_service.verifier import BallotVerifier, RefusedBallot

# Starts one worker with a check (a malformed ballot: refused before the election's values are
# needed), prints the worker's pid, then waits to be killed.
SERVICE = """
import asyncio, time
from voting_service.verifier import BallotVerifier

async def main():
    verifier = BallotVerifier(1)
    await verifier.check({}, credential="c", manifest=None, joint_key=b"", election_hash=b"")
    print(*verifier._pool._processes, flush=True)
    time.sleep(120)

asyncio.run(main())
"""


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_until_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := [pid for pid in pids if running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


async def test_a_worker_refuses_a_malformed_ballot_and_stops_when_closed() -> None:
    verifier = BallotVerifier(1)
    refused = await verifier.check(
        {"questions": "no"}, credential="c", manifest=None, joint_key=b"", election_hash=b""
    )  # type: ignore[arg-type]
    assert isinstance(refused, RefusedBallot) and refused.code == "ballot_malformed"
    assert verifier._pool is not None
    workers = list(verifier._pool._processes)
    assert workers and all(running(pid) for pid in workers)
    verifier.close()
    assert wait_until_gone(workers, 5) == []


def test_workers_exit_when_the_service_process_is_killed() -> None:
    service = subprocess.Popen([sys.executable, "-c", SERVICE], stdout=subprocess.PIPE, text=True)
    try:
        assert service.stdout is not None
        workers = [int(pid) for pid in service.stdout.readline().split()]
        assert workers and all(running(pid) for pid in workers)
    finally:
        service.kill()  # SIGKILL: no shutdown, nothing tells the workers
        service.wait(timeout=10)
    assert wait_until_gone(workers, 5) == []
