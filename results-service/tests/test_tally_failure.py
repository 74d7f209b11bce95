"""A tally that meets a counted ballot it cannot add stops as ``failed``: the reason (board
index and what is wrong, never the ballot) shows in the progress API, the audit log and the
``securevote_tallies_failed`` metric; the job leaves it alone; an administrator starts it over
once the cause is fixed, and the election then completes as usual."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from results_service import jobs, metrics
from securevote.audit import AuditEntry
from securevote.config import Settings
from securevote.db import Database

RESULTS = "/api/results/elections/{}"
BAD_POINT = "ff" * 32  # its top bit is set: not a canonical ristretto255 encoding


async def _first_counted(database: Database, election_id: str) -> tuple[int, str]:
    async with database.session() as session:
        row = (
            await session.execute(
                text(
                    "SELECT b.board_index, b.ballot FROM ballots AS b JOIN counted_ballots AS c "
                    "ON c.election_id = b.election_id AND c.board_index = b.board_index "
                    "WHERE b.election_id = :id ORDER BY b.board_index LIMIT 1"
                ),
                {"id": election_id},
            )
        ).one()
    return int(row.board_index), str(row.ballot)


async def _overwrite(database: Database, election_id: str, index: int, ballot: str) -> None:
    """Change a stored ballot behind the board's back (what corruption or a bug would do):
    the append-only triggers are bypassed, as only a database superuser could."""
    async with database.session() as session:
        if database.dialect == "postgresql":
            await session.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            await session.execute(text("DROP TRIGGER IF EXISTS ballots_no_update"))
        await session.execute(
            text(
                "UPDATE ballots SET ballot = :ballot WHERE election_id = :id AND board_index = :i"
            ),
            {"ballot": ballot, "id": election_id, "i": index},
        )


async def _audit(database: Database, election_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    async with database.session() as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.outcome, AuditEntry.details)
            .where(AuditEntry.target == f"election:{election_id}", AuditEntry.service == "results")
            .order_by(AuditEntry.id)
        )
        return [(a, o, d) for a, o, d in rows]


async def _failed_gauge(client: httpx.AsyncClient, database: Database) -> str:
    await metrics.refresh_failed_tallies(database)
    lines = (await client.get("/metrics")).text.splitlines()
    return next(line for line in lines if line.startswith("securevote_tallies_failed "))


async def test_a_bad_row_fails_the_tally_visibly_and_a_restart_recovers_it(
    client: httpx.AsyncClient,
    flows: Any,
    tokens: Callable[..., dict[str, str]],
    election_factory: Callable[..., Any],
    database: Database,
    settings: Settings,
    capfd: pytest.CaptureFixture[str],
) -> None:
    election = await election_factory()
    await flows.vote_and_close(election)
    base = RESULTS.format(election.id)
    owner = tokens("owner")
    index, original = await _first_counted(database, election.id)
    broken = json.loads(original)
    broken["questions"][0]["selections"][0]["ciphertext"]["pad"] = BAD_POINT
    await _overwrite(database, election.id, index, json.dumps(broken))

    # The tally stops as failed, with the board index and the reason, and nothing else.
    assert (await client.post(f"{base}/tally", headers=owner)).status_code == 202
    progress = (await client.get(f"{base}/tally", headers=flows.trustee(1))).json()
    reason = (
        f"The counted ballot at board index {index} cannot be added: non-canonical point encoding."
    )
    assert (progress["status"], progress["failure"]) == ("failed", reason)
    assert progress["failed_at"] is not None and progress["finished_at"] is None
    assert progress["processed"] == 0
    state = (await client.get(f"/api/elections/{election.id}", headers=owner)).json()["state"]
    assert state == "closed"  # not tallied
    assert (await client.get(f"{base}/aggregate", headers=owner)).json()["code"] == "tally_not_done"
    assert (
        "fail",
        "failure",
        {"reason": reason},
    ) == next((a[6:], o, d) for a, o, d in await _audit(database, election.id) if a == "tally.fail")
    assert await _failed_gauge(client, database) == "securevote_tallies_failed 1.0"
    # The job does not retry it in a loop.
    await jobs.run_tally_job(database, settings)
    assert (await client.get(f"{base}/tally", headers=owner)).json()["status"] == "failed"

    # Only an owner or admin restarts it; while the cause is there it fails again.
    assert (await client.post(f"{base}/tally/restart", headers=flows.trustee(1))).status_code == 403
    again = await client.post(f"{base}/tally/restart", headers=owner)
    assert again.status_code == 202
    assert (await client.get(f"{base}/tally", headers=owner)).json()["status"] == "failed"

    # The cause fixed, a restart starts over and the election completes.
    await _overwrite(database, election.id, index, original)
    assert (await client.post(f"{base}/tally/restart", headers=owner)).status_code == 202
    progress = (await client.get(f"{base}/tally", headers=owner)).json()
    assert (progress["status"], progress["processed"], progress["total"]) == ("done", 5, 5)
    assert progress["failure"] is None and progress["failed_at"] is None
    done = await client.post(f"{base}/tally/restart", headers=owner)  # not failed: left alone
    assert done.status_code == 202 and done.json()["status"] == "done"
    assert await _failed_gauge(client, database) == "securevote_tallies_failed 0.0"
    state = (await client.get(f"/api/elections/{election.id}", headers=owner)).json()["state"]
    assert state == "tallied"
    await flows.decrypt(election)
    assert (await client.post(f"{base}/publish", headers=owner)).status_code == 200
    document = (await client.get(f"{base}/results")).json()
    got = {(q["question"], o["option"]): o["count"] for q in document["questions"]
           for o in q["options"]}  # fmt: skip
    assert got == election.expected_counts()

    trail = [(a, o) for a, o, _ in await _audit(database, election.id)]
    assert trail[:6] == [
        ("tally.start", "success"),
        ("tally.fail", "failure"),
        ("tally.restart", "success"),
        ("tally.fail", "failure"),
        ("tally.restart", "success"),
        ("tally.finish", "success"),
    ]
    # Neither the bad value nor the ballot reached a log line.
    output = capfd.readouterr()
    for secret in (BAD_POINT, broken["questions"][0]["selections"][0]["ciphertext"]["data"]):
        assert secret not in output.out + output.err


async def test_restarting_needs_a_failed_tally(
    client: httpx.AsyncClient,
    tokens: Callable[..., dict[str, str]],
    election_factory: Callable[..., Any],
) -> None:
    election = await election_factory()
    refused = await client.post(
        f"{RESULTS.format(election.id)}/tally/restart", headers=tokens("owner")
    )
    assert refused.status_code == 409 and refused.json()["code"] == "no_tally"
