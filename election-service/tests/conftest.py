"""Fixtures for the election service tests: the app, tokens for every kind of caller, and a
helper that builds an election through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from election_service.app import create_app
from securevote.auth import signer_from_settings
from securevote.config import Settings
from securevote.db import Database

ORG = "org-main"
OTHER_ORG = "org-other"
# An account with the observer role that tests name as observer of an election
# (``Builder.observe``): an observer sees only the elections it is named for.
OBSERVER_ID = "0b5e77e2-0000-4000-8000-00000000000f"


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI, serve: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as http:
        yield http


@pytest.fixture
def token(settings: Settings) -> Callable[..., dict[str, str]]:
    """``token("owner")`` → Authorization headers for an admin with that role in ORG;
    ``token("voter")`` for a voter session; ``token("owner", org=OTHER_ORG)``."""
    signer = signer_from_settings(settings)

    def make(role: str, *, org: str = ORG, subject: str = "admin-1") -> dict[str, str]:
        if role == "anonymous":
            return {}
        if role == "voter":
            claims: dict[str, Any] = {"sub": "v-1", "kind": "voter", "eid": "e", "cred": "c"}
        else:
            claims = {"sub": subject, "kind": "admin", "org": org, "roles": [role]}
        return {"Authorization": f"Bearer {signer.issue(claims, ttl_seconds=600)}"}

    return make


def election_body(**overrides: Any) -> dict[str, Any]:
    opens = datetime.now(UTC) + timedelta(days=1)
    body: dict[str, Any] = {
        "title": "Board election 2027",
        "description": "Elect three board members.",
        "time_zone": "Europe/Zurich",
        "opens_at": opens.isoformat(),
        "closes_at": (opens + timedelta(days=7)).isoformat(),
        "settings": {"allow_revoting": True, "second_factor": "none"},
        "trustee_count": 3,
        "threshold": 2,
    }
    if "opens_at" in overrides and "closes_at" not in overrides:
        opens_at = datetime.fromisoformat(str(overrides["opens_at"]))
        if opens_at.tzinfo is not None:
            body["closes_at"] = (opens_at + timedelta(days=7)).isoformat()
    body.update(overrides)
    return body


QUESTION = {
    "title": "Who should chair the board?",
    "kind": "plurality",
    "options": [
        {"title": "Ada", "description": "Treasurer since 2020"},
        {"title": "Grace"},
        {"title": "Alan"},
    ],
}


def roll_csv(count: int, *, start: int = 0, dob: bool = False) -> bytes:
    header = "email,name,external_id" + (",date_of_birth" if dob else "")
    lines = [header]
    for i in range(start, start + count):
        line = f"voter{i}@example.org,Voter {i},M-{i:06d}"
        if dob:
            line += f",19{50 + i % 50}-0{1 + i % 9}-1{i % 10}"
        lines.append(line)
    return ("\n".join(lines) + "\n").encode()


class Builder:
    """Builds elections through the API as an owner of ORG."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str], db: Database):
        self.client = client
        self.headers = headers
        self.database = db

    async def election(self, **overrides: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/elections", json=election_body(**overrides), headers=self.headers
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def question(self, election_id: str, body: dict[str, Any] | None = None) -> str:
        response = await self.client.post(
            f"/api/elections/{election_id}/questions", json=body or QUESTION, headers=self.headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def voters(self, election_id: str, data: bytes) -> dict[str, Any]:
        response = await self.client.post(
            f"/api/elections/{election_id}/voters/import",
            content=data,
            headers={**self.headers, "Content-Type": "text/csv"},
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def observe(self, election_id: str, *account_ids: str) -> None:
        """Name the observers of the election (by default ``OBSERVER_ID``)."""
        response = await self.client.put(
            f"/api/elections/{election_id}/observers",
            json={"account_ids": list(account_ids or (OBSERVER_ID,))},
            headers=self.headers,
        )
        assert response.status_code == 200, response.text

    async def joint_key(self, election_id: str, *, complete: bool = True) -> str:
        """The quickest complete key ceremony: the demo server trustee (n = k = 1). Real
        trustees: ``ceremony_helpers.run_ceremony``. Returns the joint key (hex)."""
        response = await self.client.put(
            f"/api/elections/{election_id}/trustees",
            json={"server_trustee": True},
            headers=self.headers,
        )
        assert response.status_code == 200, response.text
        assert (response.json()["status"] == "complete") is complete, response.text
        return str(response.json()["joint_public_key"])

    async def ready(self, **overrides: Any) -> str:
        """A draft election with everything a freeze needs (a server-trustee ceremony)."""
        election_id = str((await self.election(**overrides))["id"])
        await self.question(election_id)
        await self.voters(election_id, roll_csv(5))
        await self.joint_key(election_id)
        return election_id

    async def frozen(self, **overrides: Any) -> str:
        election_id = await self.ready(**overrides)
        response = await self.client.post(
            f"/api/elections/{election_id}/freeze", headers=self.headers
        )
        assert response.status_code == 200, response.text
        return election_id


@pytest.fixture
def build(client: httpx.AsyncClient, token: Callable[..., dict[str, str]], app: FastAPI) -> Builder:
    return Builder(client, token("owner"), app.state.database)
