"""The role matrix: every endpoint by every kind of caller.

anonymous → 401; a voter → 403; an admin of another organisation → 404 (existence is never
revealed); an organisation trustee or observer that is not named for the election → 404 on
reading it (it does not exist for them), 403 on changing it; a named observer → may read,
not change (403), and does not see the roll; admin and owner → may do everything. A refused
call changes nothing (no audit entry either). Named trustees: ``test_ceremony_access``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from securevote.audit import AuditEntry
from securevote.auth import signer_from_settings
from securevote.config import Settings

from .conftest import OTHER_ORG, QUESTION, Builder, election_body, roll_csv

CALLERS = (
    "anonymous",
    "voter",
    "trustee",
    "observer",
    "named-observer",
    "other-org",
    "admin",
    "owner",
)
# The account the owner names as observer of every election the matrix prepares.
NAMED_OBSERVER = "0b5e77e2-0000-4000-8000-000000000001"
OTHER_OBSERVER = "0b5e77e2-0000-4000-8000-000000000002"
READ, EDIT, ROLL = "read", "edit", "roll"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with {e}, {q}, {v} for the election, question and voter ids
    kind: str  # READ (who may see it), EDIT (owner, admin), ROLL (owner, admin: personal data)
    success: int
    stage: str = "draft"  # the state the election is prepared in
    body: dict[str, Any] | None = None
    csv: bytes | None = None


ENDPOINTS = [
    Endpoint("GET", "/api/elections/{e}", READ, 200),
    Endpoint("GET", "/api/elections/{e}/readiness", READ, 200),
    Endpoint("PATCH", "/api/elections/{e}", EDIT, 200, body={"title": "New title"}),
    Endpoint("DELETE", "/api/elections/{e}", EDIT, 204),
    Endpoint("POST", "/api/elections/{e}/questions", EDIT, 201, body=QUESTION),
    Endpoint("PUT", "/api/elections/{e}/questions/{q}", EDIT, 200, body=QUESTION),
    Endpoint("DELETE", "/api/elections/{e}/questions/{q}", EDIT, 204),
    Endpoint("PUT", "/api/elections/{e}/question-order", EDIT, 200, body={"question_ids": ["{q}"]}),
    Endpoint("POST", "/api/elections/{e}/voters/import", EDIT, 200, csv=roll_csv(2, start=50)),
    Endpoint("GET", "/api/elections/{e}/voters", ROLL, 200),
    Endpoint("DELETE", "/api/elections/{e}/voters/{v}", EDIT, 204),
    Endpoint("DELETE", "/api/elections/{e}/voters", EDIT, 200),
    Endpoint("POST", "/api/elections/{e}/freeze", EDIT, 200),
    Endpoint("POST", "/api/elections/{e}/open", EDIT, 200, stage="frozen"),
    Endpoint("POST", "/api/elections/{e}/close", EDIT, 200, stage="open"),
    Endpoint("GET", "/api/elections/{e}/ceremony", READ, 200),
    Endpoint("GET", "/api/elections/{e}/observers", EDIT, 200),
    Endpoint(
        "PUT",
        "/api/elections/{e}/observers",
        EDIT,
        200,
        body={"account_ids": [NAMED_OBSERVER, OTHER_OBSERVER]},
    ),
    # Observers may be named at any state (they do not define the election).
    Endpoint(
        "PUT",
        "/api/elections/{e}/observers",
        EDIT,
        200,
        stage="open",
        body={"account_ids": [OTHER_OBSERVER]},
    ),
    Endpoint("GET", "/api/elections/{e}", READ, 200, stage="open"),
]


def expected_status(endpoint: Endpoint, caller: str) -> int:
    if caller == "anonymous":
        return 401
    if caller == "voter":
        return 403
    if caller in ("trustee", "observer", "named-observer") and endpoint.kind != READ:
        return 403
    if caller in ("other-org", "trustee", "observer"):
        return 404  # not named for this election: it does not exist for them
    return endpoint.success


def headers_for(caller: str, token: Callable[..., dict[str, str]]) -> dict[str, str]:
    if caller == "other-org":
        return token("owner", org=OTHER_ORG, subject="intruder")
    if caller == "named-observer":
        return token("observer", subject=NAMED_OBSERVER)
    return token(caller)


async def _prepare(build: Builder, stage: str) -> dict[str, str]:
    election_id = await build.ready()
    named = await build.client.put(
        f"/api/elections/{election_id}/observers",
        json={"account_ids": [NAMED_OBSERVER]},
        headers=build.headers,
    )
    assert named.status_code == 200, named.text
    if stage in ("frozen", "open"):
        assert (
            await build.client.post(f"/api/elections/{election_id}/freeze", headers=build.headers)
        ).status_code == 200
    if stage == "open":
        assert (
            await build.client.post(f"/api/elections/{election_id}/open", headers=build.headers)
        ).status_code == 200
    detail = (await build.client.get(f"/api/elections/{election_id}", headers=build.headers)).json()
    voters = (
        await build.client.get(f"/api/elections/{election_id}/voters", headers=build.headers)
    ).json()
    return {"e": election_id, "q": detail["questions"][0]["id"], "v": str(voters["items"][0]["id"])}


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


async def _audit_count(app: FastAPI) -> int:
    async with app.state.database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
async def test_role_matrix(
    endpoint: Endpoint,
    client: httpx.AsyncClient,
    build: Builder,
    token: Callable[..., dict[str, str]],
    app: FastAPI,
) -> None:
    outcomes = {}
    for caller in CALLERS:
        ids = await _prepare(build, endpoint.stage)
        before = await _audit_count(app)
        headers = headers_for(caller, token)
        url = endpoint.path.format(**ids)
        if endpoint.csv is not None:
            response = await client.request(
                endpoint.method,
                url,
                content=endpoint.csv,
                headers={**headers, "Content-Type": "text/csv"},
            )
        else:
            response = await client.request(
                endpoint.method, url, json=_fill(endpoint.body, ids), headers=headers
            )
        outcomes[caller] = response.status_code
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            assert await _audit_count(app) == before, caller
    assert outcomes == {caller: expected_status(endpoint, caller) for caller in CALLERS}


async def test_collection_endpoints(
    client: httpx.AsyncClient, build: Builder, token: Callable[..., dict[str, str]]
) -> None:
    ours = (await build.election())["id"]
    create = {}
    listing = {}
    for caller in CALLERS:
        headers = headers_for(caller, token)
        create[caller] = (
            await client.post("/api/elections", json=election_body(), headers=headers)
        ).status_code
        response = await client.get("/api/elections", headers=headers)
        listing[caller] = response.status_code
        if caller == "other-org":
            assert ours not in {item["id"] for item in response.json()["items"]}
            assert response.json()["total"] == 1  # only the one it created itself
    assert create == {
        "anonymous": 401,
        "voter": 403,
        "trustee": 403,
        "observer": 403,
        "named-observer": 403,
        "other-org": 201,
        "admin": 201,
        "owner": 201,
    }
    assert listing == {
        "anonymous": 401,
        "voter": 403,
        "trustee": 200,
        "observer": 200,
        "named-observer": 200,
        "other-org": 200,
        "admin": 200,
        "owner": 200,
    }


async def test_an_admin_token_without_any_role_is_refused(
    client: httpx.AsyncClient, build: Builder, settings: Settings
) -> None:
    election_id = (await build.election())["id"]
    token = signer_from_settings(settings).issue(
        {"sub": "x", "kind": "admin", "org": "org-main", "roles": []}, ttl_seconds=60
    )
    response = await client.get(
        f"/api/elections/{election_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
