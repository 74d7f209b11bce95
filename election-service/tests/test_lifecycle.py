"""The lifecycle: every guard, nothing changes after freezing, exactly-once transitions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from election_service import ceremony, service
from election_service.errors import NotEditable, TransitionRefused
from election_service.lifecycle import transition
from securevote.db import Database

from .conftest import OBSERVER_ID, ORG, QUESTION, Builder, roll_csv

Headers = Callable[..., dict[str, str]]


async def _post(
    client: httpx.AsyncClient, election_id: str, step: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(f"/api/elections/{election_id}/{step}", headers=headers)


async def test_an_empty_draft_lists_everything_missing(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    election_id = (await build.election(trustee_count=None, threshold=None))["id"]
    response = await _post(client, election_id, "freeze", token("owner"))
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["state"] == "draft"
    assert body["missing"] == [
        "no questions",
        "voter roll is empty",
        "trustees not chosen (trustee_count and threshold)",
        "joint public key not set",
    ]
    await build.observe(election_id)
    readiness = await client.get(
        f"/api/elections/{election_id}/readiness", headers=token("observer", subject=OBSERVER_ID)
    )
    assert readiness.json() == {
        "state": "draft",
        "next": "frozen",
        "ready": False,
        "missing": body["missing"],
    }


async def test_question_guards(client: httpx.AsyncClient, build: Builder, token: Headers) -> None:
    election_id = (await build.election())["id"]
    await build.question(election_id)  # fine
    await build.question(
        election_id, {"title": "Lonely", "kind": "plurality", "options": [{"title": "A"}]}
    )
    await build.question(
        election_id,
        {
            "title": "Too few",
            "kind": "k_of_n",
            "min_selections": 3,
            "max_selections": 4,
            "options": [{"title": "A"}, {"title": "B"}],
        },
    )
    await build.voters(election_id, roll_csv(2))
    # The questions do not make a manifest, so not even the server trustee can make a key.
    await build.joint_key(election_id, complete=False)
    response = await _post(client, election_id, "freeze", token("owner"))
    assert response.status_code == 409
    assert response.json()["missing"] == [
        "question 2 has fewer than 2 options",
        "question 3 has fewer options than its minimum (3)",
        "question 3 allows more selections (4) than options",
        "key ceremony not complete (registering): The server trustee's key is generated once "
        "the questions are complete (need min_selections <= max_selections <= number of "
        "options): restart the ceremony.",
        "joint public key not set",
    ]


async def test_the_date_of_birth_factor_needs_it_for_every_voter(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    election_id = await build.ready()  # roll without dates of birth
    changed = await client.patch(
        f"/api/elections/{election_id}",
        json={"settings": {"second_factor": "date_of_birth"}},
        headers=token("owner"),
    )
    assert changed.status_code == 200
    response = await _post(client, election_id, "freeze", token("owner"))
    assert response.json()["missing"] == [
        "5 voters have no date of birth (the second factor needs one)"
    ]


async def test_a_window_in_the_past_cannot_be_frozen(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    past = datetime.now(UTC) - timedelta(days=3)
    election_id = await build.ready(
        opens_at=past.isoformat(), closes_at=(past + timedelta(days=1)).isoformat()
    )
    response = await _post(client, election_id, "freeze", token("owner"))
    assert response.json()["missing"] == ["closing time has passed"]


async def test_the_full_lifecycle(
    client: httpx.AsyncClient, build: Builder, token: Headers, app: FastAPI
) -> None:
    owner = token("owner")
    election_id = await build.ready()
    assert (await client.get(f"/api/elections/{election_id}/readiness", headers=owner)).json()[
        "ready"
    ]
    assert (await _post(client, election_id, "open", owner)).status_code == 409
    frozen = await _post(client, election_id, "freeze", owner)
    assert frozen.status_code == 200 and frozen.json()["state"] == "frozen"
    assert frozen.json()["frozen_at"] is not None
    assert frozen.json()["joint_public_key"] is not None
    assert frozen.json()["server_trustee"] is True
    assert frozen.json()["election_hash"] is not None
    assert (await _post(client, election_id, "close", owner)).json()["state"] == "frozen"
    opened = await _post(client, election_id, "open", owner)
    assert opened.json()["state"] == "open" and opened.json()["opened_at"]
    closed = await _post(client, election_id, "close", owner)
    assert closed.json()["state"] == "closed"
    again = await _post(client, election_id, "close", owner)
    assert again.status_code == 409 and again.json()["state"] == "closed"

    database: Database = app.state.database
    now = datetime.now(UTC)
    async with database.session() as session:
        tallied = await service.mark_tallied(
            session, election_id=election_id, actor="system:results", now=now
        )
        assert tallied.state == "tallied" and tallied.tallied_at is not None
    async with database.session() as session:
        with pytest.raises(TransitionRefused):
            await service.mark_tallied(
                session, election_id=election_id, actor="system:results", now=now
            )
    async with database.session() as session:
        published = await service.mark_published(
            session, election_id=election_id, actor="system:results", now=now
        )
        assert published.state == "published"
    final = (await client.get(f"/api/elections/{election_id}", headers=owner)).json()
    assert final["state"] == "published" and final["published_at"] is not None
    readiness = (await client.get(f"/api/elections/{election_id}/readiness", headers=owner)).json()
    assert readiness == {"state": "published", "next": None, "ready": False, "missing": []}


async def test_nothing_that_defines_the_election_changes_after_freezing(
    client: httpx.AsyncClient, build: Builder, token: Headers, app: FastAPI
) -> None:
    owner = token("owner")
    election_id = await build.frozen()
    before = (await client.get(f"/api/elections/{election_id}", headers=owner)).json()
    question_id = before["questions"][0]["id"]
    voters = (await client.get(f"/api/elections/{election_id}/voters", headers=owner)).json()
    base = f"/api/elections/{election_id}"
    attempts = [
        client.patch(base, json={"title": "Changed"}, headers=owner),
        client.patch(base, json={"closes_at": "2099-01-01T00:00:00Z"}, headers=owner),
        client.delete(base, headers=owner),
        client.post(f"{base}/questions", json=QUESTION, headers=owner),
        client.put(f"{base}/questions/{question_id}", json=QUESTION, headers=owner),
        client.delete(f"{base}/questions/{question_id}", headers=owner),
        client.put(f"{base}/question-order", json={"question_ids": [question_id]}, headers=owner),
        client.post(
            f"{base}/voters/import",
            content=roll_csv(1, start=100),
            headers={**owner, "Content-Type": "text/csv"},
        ),
        client.delete(f"{base}/voters/{voters['items'][0]['id']}", headers=owner),
        client.delete(f"{base}/voters", headers=owner),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 409, response.request.url
        assert response.json()["state"] == "frozen"
    async with app.state.database.session() as session:
        with pytest.raises(NotEditable):
            await ceremony.restart(
                session,
                organisation_id=ORG,
                election_id=election_id,
                actor="x",
                server_secret=b"x" * 32,
                now=datetime.now(UTC),
            )
    after = (await client.get(f"/api/elections/{election_id}", headers=owner)).json()
    assert after == before
    voters_after = (await client.get(f"/api/elections/{election_id}/voters", headers=owner)).json()
    assert voters_after == voters


@pytest.mark.parametrize("step", ["freeze", "open", "close"])
async def test_a_concurrent_double_transition_succeeds_exactly_once(
    client: httpx.AsyncClient, build: Builder, token: Headers, step: str
) -> None:
    owner = token("owner")
    election_id = await build.ready()
    for previous in ("freeze", "open", "close"):
        if previous == step:
            break
        assert (await _post(client, election_id, previous, owner)).status_code == 200
    responses = await asyncio.gather(*(_post(client, election_id, step, owner) for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]


async def test_concurrent_transitions_in_separate_sessions(app: FastAPI, build: Builder) -> None:
    election_id = await build.ready()
    database: Database = app.state.database

    async def freeze() -> str:
        try:
            async with database.session() as session:
                await transition(
                    session,
                    name="freeze",
                    election_id=election_id,
                    organisation_id=ORG,
                    actor="admin:x",
                    now=datetime.now(UTC),
                )
            return "ok"
        except TransitionRefused:
            return "refused"

    results = await asyncio.gather(*(freeze() for _ in range(5)))
    assert sorted(results) == ["ok", "refused", "refused", "refused", "refused"]


async def test_a_change_racing_a_freeze_is_either_in_or_refused(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    owner = token("owner")
    election_id = await build.ready()
    add, freeze = await asyncio.gather(
        client.post(f"/api/elections/{election_id}/questions", json=QUESTION, headers=owner),
        _post(client, election_id, "freeze", owner),
    )
    # The key ceremony is bound to the questions: if the change got in first, the freeze is
    # refused (the ceremony is for the older questions); otherwise the change is refused.
    if add.status_code == 201:
        assert freeze.status_code == 409
        assert freeze.json()["missing"] == ["key ceremony is for an older version of the questions"]
    else:
        assert add.status_code == 409 and freeze.status_code == 200
        assert len(freeze.json()["questions"]) == 1
