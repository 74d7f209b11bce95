"""The audit log API of one election: who may read it (owners, admins, named observers;
everyone else 404 or 401/403), what an entry shows (no voter credential, no address), paging,
and the chain verification."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from securevote import audit
from securevote.db import Database

from .ceremony_helpers import make_trustees, name_trustees
from .conftest import OBSERVER_ID, OTHER_ORG, Builder

Headers = Callable[..., dict[str, str]]
ENDPOINTS = ("/api/elections/{e}/audit", "/api/elections/{e}/audit/chain")


async def _record_voter_entries(database: Database, election_id: str) -> None:
    """What the auth service writes about one voter of this election (and of another)."""
    async with database.session() as session:
        await audit.record(
            session,
            service="auth",
            actor="credential:c-secret-1",
            action="auth.voter.redeem",
            target="credential:c-secret-1",
            details={"reason": "success", "client": "198.51.100.7", "election": election_id},
        )
        await audit.record(
            session,
            service="auth",
            actor="system:mail",
            action="auth.voter_token.issue",
            target=f"election:{election_id}",
            details={"count": 1, "credentials": ["c-secret-1"]},
        )
        await audit.record(
            session,
            service="auth",
            actor="credential:c-elsewhere",
            action="auth.voter.redeem",
            target="credential:c-elsewhere",
            details={"reason": "success", "election": "another-election"},
        )


async def test_who_may_read_an_elections_audit_log(
    client: httpx.AsyncClient, token: Headers, build: Builder
) -> None:
    election_id = str((await build.election())["id"])
    await build.observe(election_id)
    trustees = make_trustees(client, token, election_id, count=2)
    named = await name_trustees(client, build.headers, election_id, trustees, threshold=1)
    assert named.status_code == 200, named.text
    callers = {
        "anonymous": ({}, 401),
        "voter": (token("voter"), 403),
        "other-org owner": (token("owner", org=OTHER_ORG), 404),
        "unnamed observer": (token("observer", subject="someone-else"), 404),
        "named trustee": (trustees[0].headers, 404),
        "named observer": (token("observer", subject=OBSERVER_ID), 200),
        "admin": (token("admin"), 200),
        "owner": (token("owner"), 200),
    }
    for path in ENDPOINTS:
        url = path.format(e=election_id)
        got = {
            name: (await client.get(url, headers=h)).status_code for name, (h, _) in callers.items()
        }
        assert got == {name: code for name, (_, code) in callers.items()}, url
    missing = "/api/elections/00000000-0000-4000-8000-000000000000/audit"
    assert (await client.get(missing, headers=token("owner"))).status_code == 404


async def test_entries_are_the_elections_newest_first_without_voter_secrets(
    client: httpx.AsyncClient, token: Headers, build: Builder, app: FastAPI
) -> None:
    election_id = str((await build.election())["id"])
    other_id = str((await build.election(title="Another election"))["id"])
    await build.question(election_id)
    await _record_voter_entries(app.state.database, election_id)
    response = await client.get(f"/api/elections/{election_id}/audit", headers=token("admin"))
    assert response.status_code == 200, response.text
    page = response.json()
    actions = [item["action"] for item in page["items"]]
    # Not the other election's creation, nor the redemption in another election.
    assert actions == [
        "auth.voter_token.issue",
        "auth.voter.redeem",
        "question.create",
        "election.create",
    ]
    ids = [item["id"] for item in page["items"]]
    assert ids == sorted(ids, reverse=True)
    assert all(other_id not in str(item) for item in page["items"])
    assert "another-election" not in response.text
    assert "c-secret-1" not in response.text and "198.51.100.7" not in response.text
    redeem = next(i for i in page["items"] if i["action"] == "auth.voter.redeem")
    assert redeem["actor"] == redeem["target"] == "voter"
    assert redeem["hidden_details"] == ["client"]
    assert redeem["details"] == {"reason": "success", "election": election_id}
    issue = next(i for i in page["items"] if i["action"] == "auth.voter_token.issue")
    assert issue["hidden_details"] == ["credentials"] and issue["details"] == {"count": 1}
    create = page["items"][-1]
    assert create["target"] == f"election:{election_id}"
    assert create["entry_hash"] != create["prev_hash"]
    assert datetime.fromisoformat(create["occurred_at"]).tzinfo is not None
    assert page["next_before"] is None


async def test_entries_are_paged(client: httpx.AsyncClient, token: Headers, build: Builder) -> None:
    election_id = str((await build.election())["id"])
    for _ in range(4):
        await build.question(election_id)
    url = f"/api/elections/{election_id}/audit"
    seen: list[int] = []
    before: int | None = None
    while True:
        params = {"limit": 2, **({"before": before} if before else {})}
        page = (await client.get(url, params=params, headers=token("owner"))).json()
        seen += [item["id"] for item in page["items"]]
        assert len(page["items"]) <= 2
        before = page["next_before"]
        if before is None:
            break
    assert len(seen) == 5 == len(set(seen))  # created, four questions
    assert seen == sorted(seen, reverse=True)
    refused = await client.get(url, params={"limit": 201}, headers=token("owner"))
    assert refused.status_code == 422


async def test_the_chain_is_verified_and_a_break_is_named(
    client: httpx.AsyncClient, token: Headers, build: Builder, app: FastAPI
) -> None:
    election_id = str((await build.election())["id"])
    url = f"/api/elections/{election_id}/audit/chain"
    chain = (await client.get(url, headers=token("owner"))).json()
    assert chain["ok"] is True and chain["first_broken_id"] is None
    assert chain["entries"] >= 1 and len(chain["head"]) == 64
    # An entry appended by someone who skipped audit.record: its hash does not fit.
    async with app.state.database.session() as session:
        forged = audit.AuditEntry(
            occurred_at=datetime.now(UTC),
            service="election",
            actor="admin:mallory",
            action="election.delete",
            target=f"election:{election_id}",
            outcome="success",
            details={},
            prev_hash=chain["head"],
            entry_hash="f" * 64,
        )
        session.add(forged)
        await session.flush()
        forged_id = forged.id
    broken = await client.get(url, headers=token("observer", subject=OBSERVER_ID))
    assert broken.status_code == 404  # not named for this election
    await build.observe(election_id)
    broken = (await client.get(url, headers=token("observer", subject=OBSERVER_ID))).json()
    assert broken["ok"] is False
    assert broken["first_broken_id"] == forged_id
    assert broken["reason"] == "entry hash does not match its content"
