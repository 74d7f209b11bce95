"""The load test's scenario (locust): voters redeem their voting link and cast their ballot.

    make load-test VOTERS=200 USERS=20 DURATION=60s      # against the running local cluster

Each simulated user takes the next voter of the voters file that ``setup_election.py`` wrote
(``LOAD_VOTERS``, default ``var/load/voters.json``) and does what a voter's browser does,
from the voter's own address: ``POST /api/auth/voter/redeem`` with the token (a voter
session), then ``POST /api/ballots/elections/{id}/cast`` with the voter's ballot — a real
encrypted ballot with its proofs, encrypted before the run so that the client's crypto is not
what is measured — and a fresh ``Idempotency-Key``. A cast counts as a success only if the
receipt is for that ballot's tracker. Every voter votes once; when all have, the run ends
(or at ``--run-time``, whichever comes first). At the end, after locust's own report, a
summary table (requests, failures, requests per second, median and 99th percentile) is
printed and, with ``LOAD_SUMMARY=FILE``, written there as Markdown.

This file needs locust alone (the ``load`` dependency group): it imports nothing of
secure-vote, so locust's gevent never enters the project's environment.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
from pathlib import Path
from typing import Any

from locust import HttpUser, constant, events, task
from locust.env import Environment
from locust.exception import StopUser

VOTERS_FILE = Path(os.environ.get("LOAD_VOTERS", "var/load/voters.json"))
DOCUMENT: dict[str, Any] = json.loads(VOTERS_FILE.read_text(encoding="utf-8"))
ELECTION_ID: str = DOCUMENT["election_id"]
TOTAL = len(DOCUMENT["voters"])
# gevent switches only at I/O: next() on these is never interleaved.
_voters = iter(DOCUMENT["voters"])
_finished = itertools.count(1)
_environments: list[Environment] = []


class Voter(HttpUser):
    host = DOCUMENT["url"]
    wait_time = constant(0)

    @task
    def vote(self) -> None:
        voter = next(_voters, None)
        if voter is None:
            raise StopUser()
        try:
            self.redeem_and_cast(voter)
        finally:
            if next(_finished) == TOTAL:
                self.environment.runner.quit()  # every voter has voted

    def redeem_and_cast(self, voter: dict[str, Any]) -> None:
        address = {"X-Forwarded-For": voter["address"]}
        with self.client.post(
            "/api/auth/voter/redeem",
            json={"token": voter["token"]},
            headers=address,
            name="redeem",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return
            session = response.json()["session_token"]
        with self.client.post(
            f"/api/ballots/elections/{ELECTION_ID}/cast",
            json={"ballot": voter["ballot"]},
            headers={
                **address,
                "Authorization": f"Bearer {session}",
                "Idempotency-Key": secrets.token_urlsafe(24),
            },
            name="cast",
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}")
            elif response.json()["receipt"]["tracker"] != voter["tracker"]:
                response.failure("the receipt is for another ballot")


@events.init.add_listener
def _remember(environment: Environment, **_kwargs: Any) -> None:
    _environments.append(environment)


@events.quit.add_listener
def _summary(exit_code: int, **_kwargs: Any) -> None:
    """The figures of the run, from locust's final statistics."""
    stats = _environments[0].stats
    lines = [
        f"Load test: {TOTAL} voters, election {ELECTION_ID}",
        "",
        "| request | count | failures | requests/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for entry in [*sorted(stats.entries.values(), key=lambda e: e.name), stats.total]:
        lines.append(
            f"| {entry.name} | {entry.num_requests} | {entry.num_failures} | "
            f"{entry.total_rps:.1f} | {entry.get_response_time_percentile(0.5):.0f} | "
            f"{entry.get_response_time_percentile(0.99):.0f} |"
        )
    text = "\n".join(lines) + "\n"
    print("\n" + text, flush=True)
    if target := os.environ.get("LOAD_SUMMARY"):
        Path(target).write_text(text, encoding="utf-8")
