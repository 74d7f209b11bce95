"""Elections and questions through the API: create, read, change, delete; strict input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from .conftest import OBSERVER_ID, QUESTION, Builder, election_body

PROBLEM = "application/problem+json"


async def test_create_read_update_delete(
    client: httpx.AsyncClient, build: Builder, token: Callable[..., dict[str, str]]
) -> None:
    owner = token("owner")
    created = await build.election(opens_at="2027-03-01T09:00:00+01:00")
    assert created["state"] == "draft"
    assert created["opens_at"].startswith("2027-03-01T08:00:00")  # stored and shown in UTC
    assert created["opens_at_local"] == "2027-03-01T09:00:00+01:00"
    assert created["organisation_id"] == "org-main"
    assert created["voter_count"] == 0 and created["questions"] == []
    election_id = created["id"]

    response = await client.patch(
        f"/api/elections/{election_id}",
        json={"title": "Board election 2027 (2nd round)", "settings": {"allow_revoting": False}},
        headers=owner,
    )
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Board election 2027 (2nd round)"
    assert response.json()["settings"] == {"allow_revoting": False, "second_factor": "none"}

    listing = await client.get("/api/elections", headers=owner)
    assert listing.json()["total"] == 1
    assert listing.json()["items"][0]["id"] == election_id
    assert (await client.get("/api/elections?state=open", headers=owner)).json()["total"] == 0

    assert (await client.delete(f"/api/elections/{election_id}", headers=owner)).status_code == 204
    missing = await client.get(f"/api/elections/{election_id}", headers=owner)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"opens_at": "2027-03-01T09:00:00"}, "opens_at"),  # naive time
        ({"closes_at": "2020-01-01T00:00:00Z", "opens_at": "2021-01-01T00:00:00Z"}, None),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "two\nlines"}, "title"),
        ({"description": "bell\x07"}, "description"),
        ({"settings": {"second_factor": "sms"}}, "settings"),
        ({"settings": {"allow_revoting": "yes"}}, "settings"),
        ({"threshold": 4}, None),
        ({"trustee_count": None}, None),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_invalid_elections_are_refused(
    client: httpx.AsyncClient,
    token: Callable[..., dict[str, str]],
    change: dict[str, Any],
    location: str | None,
) -> None:
    response = await client.post(
        "/api/elections", json=election_body(**change), headers=token("admin")
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    if location:
        assert any(location in error["location"] for error in response.json()["errors"])
    assert (await client.get("/api/elections", headers=token("admin"))).json()["total"] == 0


async def test_update_keeps_the_window_consistent(
    client: httpx.AsyncClient, build: Builder, token: Callable[..., dict[str, str]]
) -> None:
    election = await build.election()
    before = election["opens_at"]
    response = await client.patch(
        f"/api/elections/{election['id']}",
        json={"closes_at": before},
        headers=token("owner"),
    )
    assert response.status_code == 422
    null_title = await client.patch(
        f"/api/elections/{election['id']}", json={"title": None}, headers=token("owner")
    )
    assert null_title.status_code == 422


async def test_question_presets_and_general_k_of_n(
    client: httpx.AsyncClient, build: Builder, token: Callable[..., dict[str, str]]
) -> None:
    election_id = (await build.election())["id"]
    owner = token("owner")
    url = f"/api/elections/{election_id}/questions"
    options = [{"title": name} for name in ("A", "B", "C", "D")]

    plurality = await client.post(url, json={**QUESTION}, headers=owner)
    assert (plurality.json()["min_selections"], plurality.json()["max_selections"]) == (1, 1)
    assert [o["title"] for o in plurality.json()["options"]] == ["Ada", "Grace", "Alan"]
    assert plurality.json()["options"][0]["description"] == "Treasurer since 2020"

    approval = await client.post(
        url, json={"title": "Approve", "kind": "approval", "options": options}, headers=owner
    )
    assert (approval.json()["min_selections"], approval.json()["max_selections"]) == (0, 4)

    k_of_n = await client.post(
        url,
        json={
            "title": "Pick 2 or 3",
            "kind": "k_of_n",
            "min_selections": 2,
            "max_selections": 3,
            "options": options,
        },
        headers=owner,
    )
    assert k_of_n.status_code == 201
    assert (k_of_n.json()["min_selections"], k_of_n.json()["max_selections"]) == (2, 3)
    assert [
        q["position"]
        for q in (await client.get(f"/api/elections/{election_id}", headers=owner)).json()[
            "questions"
        ]
    ] == [0, 1, 2]

    for bad in (
        {"title": "x", "kind": "plurality", "max_selections": 2, "options": options},
        {"title": "x", "kind": "k_of_n", "options": options},
        {"title": "x", "kind": "k_of_n", "min_selections": 3, "max_selections": 2},
        {"title": "x", "kind": "k_of_n", "min_selections": 0, "max_selections": 0},
        {"title": "x", "kind": "plurality", "options": [{"title": "A"}, {"title": "a"}]},
        {"title": "x", "kind": "ranked", "options": options},
        {"title": "x", "kind": "plurality", "options": [{"title": ""}]},
    ):
        response = await client.post(url, json=bad, headers=owner)
        assert response.status_code == 422, bad


async def test_replace_delete_and_reorder_questions(
    client: httpx.AsyncClient, build: Builder, token: Callable[..., dict[str, str]]
) -> None:
    owner = token("owner")
    election_id = (await build.election())["id"]
    first = await build.question(election_id, {**QUESTION, "title": "First"})
    second = await build.question(election_id, {**QUESTION, "title": "Second"})
    third = await build.question(election_id, {**QUESTION, "title": "Third"})
    base = f"/api/elections/{election_id}"

    replaced = await client.put(
        f"{base}/questions/{second}",
        json={
            "title": "Second, reworded",
            "kind": "approval",
            "options": [{"title": "Yes"}, {"title": "No"}],
        },
        headers=owner,
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["position"] == 1
    assert [o["title"] for o in replaced.json()["options"]] == ["Yes", "No"]

    order = await client.put(
        f"{base}/question-order", json={"question_ids": [third, first, second]}, headers=owner
    )
    assert order.status_code == 200, order.text
    assert [q["title"] for q in order.json()["questions"]] == ["Third", "First", "Second, reworded"]
    incomplete = await client.put(
        f"{base}/question-order", json={"question_ids": [third, first]}, headers=owner
    )
    assert incomplete.status_code == 422

    assert (await client.delete(f"{base}/questions/{first}", headers=owner)).status_code == 204
    questions = (await client.get(base, headers=owner)).json()["questions"]
    assert [(q["title"], q["position"]) for q in questions] == [
        ("Third", 0),
        ("Second, reworded", 1),
    ]
    gone = await client.delete(f"{base}/questions/{first}", headers=owner)
    assert gone.status_code == 404


async def test_times_are_stored_in_utc_whatever_the_input_offset(
    client: httpx.AsyncClient, build: Builder, token: Callable[..., dict[str, str]]
) -> None:
    opens = datetime(2027, 6, 1, 8, 0, tzinfo=UTC)
    created = await build.election(
        opens_at="2027-06-01T10:00:00+02:00",
        closes_at=(opens + timedelta(hours=10)).isoformat(),
        time_zone="America/New_York",
    )
    await build.observe(created["id"])
    fetched = (
        await client.get(
            f"/api/elections/{created['id']}", headers=token("observer", subject=OBSERVER_ID)
        )
    ).json()
    assert datetime.fromisoformat(fetched["opens_at"]) == opens
    assert fetched["opens_at_local"] == "2027-06-01T04:00:00-04:00"


async def test_the_openapi_document_lists_every_endpoint(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/elections/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/api/elections/{election_id}"]) == {"get", "patch", "delete"}
    assert (
        "multipart/form-data"
        in (paths["/api/elections/{election_id}/voters/import"]["post"]["requestBody"]["content"])
    )
    for step in ("freeze", "open", "close"):
        assert "post" in paths[f"/api/elections/{{election_id}}/{step}"]


async def test_health_under_the_prefix_and_malformed_ids(
    client: httpx.AsyncClient, token: Callable[..., dict[str, str]]
) -> None:
    health = await client.get("/api/elections/health")
    assert health.json() == {"status": "ok", "service": "election"}
    for path in ("/api/elections/not-a-uuid", "/api/elections/1/voters", "/api/elections/x/freeze"):
        response = await client.get(path, headers=token("owner"))
        assert response.status_code in (404, 405)
        assert response.headers["content-type"] == PROBLEM
