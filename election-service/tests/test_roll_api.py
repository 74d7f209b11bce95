"""Voter roll import, paging, search and removal through the API, on both databases."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from election_service import roll
from election_service.app import create_app
from election_service.models import Voter
from securevote.config import Settings
from securevote.roll_secret import secret_digest

from .conftest import Builder, roll_csv

Headers = Callable[..., dict[str, str]]


def _import_url(election_id: str) -> str:
    return f"/api/elections/{election_id}/voters/import"


async def test_multipart_latin1_semicolon_upload(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    election_id = (await build.election())["id"]
    data = "email;name\nzoe@example.ch;Zoë Müller\nrene@example.ch;René\n".encode("latin-1")
    response = await client.post(
        _import_url(election_id),
        files={"file": ("roll.csv", data, "text/csv")},
        headers=token("admin"),
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["imported"], report["rejected"], report["delimiter"]) == (2, 0, ";")
    voters = await client.get(f"/api/elections/{election_id}/voters", headers=token("admin"))
    assert [v["name"] for v in voters.json()["items"]] == ["Zoë Müller", "René"]


async def test_utf8_bom_body_with_bad_rows_keeps_the_good_ones(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    election_id = (await build.election())["id"]
    data = "\ufeffemail,name\ngood@example.org,Good\nbad-address,Bad\n,Empty\nok@example.org,Ok\n"
    report = await build.voters(election_id, data.encode("utf-8"))
    assert report["encoding"] == "utf-8-sig"
    assert (report["rows"], report["imported"], report["rejected"]) == (4, 2, 2)
    assert report["errors"] == [
        {"line": 3, "column": "email", "reason": "not a valid email address"},
        {"line": 4, "column": "email", "reason": "email is required"},
    ]
    detail = await client.get(f"/api/elections/{election_id}", headers=token("owner"))
    assert detail.json()["voter_count"] == 2


async def test_duplicates_in_the_file_and_against_the_roll(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    election_id = (await build.election())["id"]
    await build.voters(election_id, b"email\nAlice@Example.org\nbob@example.org\n")
    data = b"email\nalice@example.org\ncarol@example.org\nCAROL@example.org\nBob@example.ORG\n"
    report = await build.voters(election_id, data)
    assert report["imported"] == 1
    assert report["errors"] == [
        {"line": 2, "column": "email", "reason": "email already on the roll"},
        {"line": 4, "column": "email", "reason": "duplicate email (first on line 3)"},
        {"line": 5, "column": "email", "reason": "email already on the roll"},
    ]
    voters = await client.get(f"/api/elections/{election_id}/voters", headers=token("owner"))
    assert voters.json()["total"] == 3


async def test_ten_thousand_rows_with_paging_and_search(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    election_id = (await build.election())["id"]
    report = await build.voters(election_id, roll_csv(10_000))
    assert (report["imported"], report["rejected"]) == (10_000, 0)
    url = f"/api/elections/{election_id}/voters"
    page = (
        await client.get(url, params={"page": 3, "per_page": 100}, headers=token("owner"))
    ).json()
    assert page["total"] == 10_000 and len(page["items"]) == 100
    assert page["items"][0]["email"] == "voter200@example.org"
    found = (await client.get(url, params={"q": "VOTER999"}, headers=token("owner"))).json()
    assert {v["email"] for v in found["items"]} == {"voter999@example.org"} | {
        f"voter{i}@example.org" for i in range(9990, 10_000)
    }
    by_external_id = (
        await client.get(url, params={"q": "m-000042"}, headers=token("owner"))
    ).json()
    assert [v["email"] for v in by_external_id["items"]] == ["voter42@example.org"]
    wildcard = (await client.get(url, params={"q": "%"}, headers=token("owner"))).json()
    assert wildcard["total"] == 0
    too_big = await client.get(url, params={"per_page": 501}, headers=token("owner"))
    assert too_big.status_code == 422


async def test_credentials_are_random_unique_and_not_from_the_email(
    app: FastAPI, build: Builder
) -> None:
    election_id = (await build.election())["id"]
    await build.voters(election_id, roll_csv(500))
    async with app.state.database.session() as session:
        voters = (
            await session.scalars(select(Voter).where(Voter.election_id == election_id))
        ).all()
    credentials = [voter.credential for voter in voters]
    assert len(set(credentials)) == 500
    assert all(len(c) >= 32 for c in credentials)  # 192 bits, URL-safe base64
    for voter in voters[:20]:
        assert voter.email.split("@")[0] not in voter.credential
        assert hashlib.sha256(voter.email.encode()).hexdigest()[:16] not in voter.credential


async def test_the_date_of_birth_is_stored_only_as_a_keyed_digest(
    app: FastAPI, build: Builder, settings: Settings
) -> None:
    election_id = (await build.election(settings={"second_factor": "date_of_birth"}))["id"]
    report = await build.voters(
        election_id,
        b"email,date_of_birth\na@example.org,1984-07-09\nb@example.org,09.07.1984\nc@example.org,\n",
    )
    assert report["imported"] == 2
    assert report["errors"] == [
        {
            "line": 4,
            "column": "date_of_birth",
            "reason": "date_of_birth is required by this election",
        }
    ]
    async with app.state.database.session() as session:
        digests = set(await session.scalars(select(Voter.secret_digest)))
    expected = secret_digest(
        settings.secret_key_bytes, election_id=election_id, normalised="1984-07-09"
    )
    assert digests == {expected}
    assert expected != hmac.new(settings.secret_key_bytes, b"1984-07-09", "sha256").hexdigest()
    other = secret_digest(settings.secret_key_bytes, election_id="other", normalised="1984-07-09")
    assert other != expected  # bound to the election


async def test_file_level_errors_and_media_types(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    election_id = (await build.election())["id"]
    url = _import_url(election_id)
    owner = token("owner")
    no_email = await client.post(
        url, content=b"name\nx\n", headers={**owner, "Content-Type": "text/csv"}
    )
    assert no_email.status_code == 422
    assert no_email.headers["content-type"] == "application/problem+json"
    assert "email" in no_email.json()["detail"]
    json_body = await client.post(url, json={"email": "a@b.cd"}, headers=owner)
    assert json_body.status_code == 415
    no_file = await client.post(url, data={"other": "x"}, files={"x": ("a", b"b")}, headers=owner)
    assert no_file.status_code == 422
    detail = await client.get(f"/api/elections/{election_id}", headers=owner)
    assert detail.json()["voter_count"] == 0


async def test_removal_and_clearing_before_freezing(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    election_id = (await build.election())["id"]
    await build.voters(election_id, roll_csv(3))
    url = f"/api/elections/{election_id}/voters"
    voters = (await client.get(url, headers=token("owner"))).json()["items"]
    removed = await client.delete(f"{url}/{voters[1]['id']}", headers=token("owner"))
    assert removed.status_code == 204
    assert [v["id"] for v in (await client.get(url, headers=token("owner"))).json()["items"]] == [
        voters[0]["id"],
        voters[2]["id"],
    ]
    again = await client.delete(f"{url}/{voters[1]['id']}", headers=token("owner"))
    assert again.status_code == 404
    cleared = await client.delete(url, headers=token("owner"))
    assert cleared.json() == {"removed": 2}
    assert (await client.get(url, headers=token("owner"))).json()["total"] == 0
    # Re-importing the same people after clearing works.
    assert (await build.voters(election_id, roll_csv(3)))["imported"] == 3


async def test_a_voter_of_another_election_cannot_be_removed_through_this_one(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    first = (await build.election())["id"]
    second = (await build.election())["id"]
    await build.voters(first, roll_csv(1))
    voter_id = (await client.get(f"/api/elections/{first}/voters", headers=token("owner"))).json()[
        "items"
    ][0]["id"]
    response = await client.delete(
        f"/api/elections/{second}/voters/{voter_id}", headers=token("owner")
    )
    assert response.status_code == 404


async def test_the_database_refuses_a_repeated_credential(
    client: httpx.AsyncClient,
    build: Builder,
    token: Headers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Credentials are unique by constraint, not only by chance: force a collision."""
    election_id = (await build.election())["id"]
    monkeypatch.setattr(roll, "new_credential", lambda: "the-same-credential-for-everyone")
    response = await client.post(
        _import_url(election_id),
        content=roll_csv(2),
        headers={**token("owner"), "Content-Type": "text/csv"},
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert "voter0" not in response.text
    detail = await client.get(f"/api/elections/{election_id}", headers=token("owner"))
    assert detail.json()["voter_count"] == 0


async def test_an_oversized_upload_is_refused_before_it_is_read(
    settings: Settings, serve: Any, token: Headers
) -> None:
    small = settings.model_copy(update={"max_upload_bytes": 4096})
    app = create_app(small)
    async with serve(app) as client:
        builder = Builder(client, token("owner"), app.state.database)
        election_id = (await builder.election())["id"]
        response = await client.post(
            _import_url(election_id),
            content=roll_csv(200),
            headers={**token("owner"), "Content-Type": "text/csv"},
        )
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        detail = await client.get(f"/api/elections/{election_id}", headers=token("owner"))
        assert detail.json()["voter_count"] == 0
