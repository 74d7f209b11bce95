"""Every admin action is audited in its own transaction, the chain stays intact, and no
personal data reaches the audit log or the logs."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from securevote.audit import AuditEntry, verify_chain

from .conftest import QUESTION, Builder

PERSONAL = ("zoe@example.ch", "Zoë", "Müller", "1984-07-09", "09.07.1984", "M-7781")


async def test_a_session_of_actions_leaves_an_intact_chain_without_personal_data(
    client: httpx.AsyncClient,
    build: Builder,
    token: Callable[..., dict[str, str]],
    app: FastAPI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    owner = token("owner", subject="admin-42")
    election = await build.election(settings={"second_factor": "date_of_birth"})
    election_id = election["id"]
    base = f"/api/elections/{election_id}"
    await client.patch(base, json={"description": "Updated"}, headers=owner)
    question_id = await build.question(election_id)
    await client.put(f"{base}/questions/{question_id}", json=QUESTION, headers=owner)
    csv = (
        "email,name,external_id,date_of_birth\n"
        "zoe@example.ch,Zoë Müller,M-7781,1984-07-09\n"
        "bob@example.ch,Bob,M-7782,09.07.1984\n"
        "bad,Bad,,1984-07-09\n"
    )
    report = await build.voters(election_id, csv.encode())
    assert report["imported"] == 2
    voters = (await client.get(f"{base}/voters", params={"q": "bob"}, headers=owner)).json()
    await client.delete(f"{base}/voters/{voters['items'][0]['id']}", headers=owner)
    refused = await client.post(f"{base}/freeze", headers=owner)
    assert refused.status_code == 409
    await build.joint_key(election_id)
    assert (await client.post(f"{base}/freeze", headers=owner)).status_code == 200
    assert (await client.post(f"{base}/open", headers=owner)).status_code == 200
    assert (await client.post(f"{base}/close", headers=owner)).status_code == 200

    async with app.state.database.session() as session:
        report_chain = await verify_chain(session)
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert report_chain.ok, report_chain
    assert [(e.action, e.outcome) for e in entries] == [
        ("election.create", "success"),
        ("election.update", "success"),
        ("question.create", "success"),
        ("question.update", "success"),
        ("roll.import", "success"),
        ("roll.remove_voter", "success"),
        ("election.freeze", "failure"),
        ("ceremony.set_trustees", "success"),
        ("ceremony.server_trustee", "success"),
        ("ceremony.complete", "success"),
        ("election.freeze", "success"),
        ("election.open", "success"),
        ("election.close", "success"),
    ]
    assert {e.service for e in entries} == {"election"}
    assert {e.target for e in entries} == {f"election:{election_id}"}
    assert {e.actor for e in entries} - {
        "admin:admin-1",
        "admin:admin-42",
        "system:key-ceremony",
        "system:server-trustee",
    } == set()
    assert entries[4].details == {"rows": 3, "imported": 2, "rejected": 1}
    assert entries[6].details["missing"] == [
        "trustees not named (0 of 3)",
        "joint public key not set",
    ]
    assert entries[1].details == {"fields": ["description"]}

    written = json.dumps([{"details": e.details, "target": e.target} for e in entries])
    logs = capsys.readouterr()
    assert "roll.import" in logs.out or "/voters/import" in logs.out  # the logs were seen
    for value in PERSONAL:
        assert value not in written
        assert value not in logs.out and value not in logs.err


async def test_refused_requests_leave_no_trace_but_a_problem(
    client: httpx.AsyncClient, token: Callable[..., dict[str, str]], app: FastAPI, build: Builder
) -> None:
    election_id = (await build.election())["id"]
    response = await client.post(
        f"/api/elections/{election_id}/voters/import",
        content=b"email\nzoe@example.ch\nzoe@example.ch\n",
        headers={**token("observer"), "Content-Type": "text/csv"},
    )
    assert response.status_code == 403
    assert "zoe" not in response.text
    async with app.state.database.session() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert actions == ["election.create"]
