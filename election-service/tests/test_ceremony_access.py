"""The role matrix of the key ceremony endpoints.

Reading the progress: whoever may read the election — owner and admin, its named trustees,
its named observers. Naming trustees and restarting: owner and admin. A trustee step for
trustee i: only the account named as trustee i, with the trustee role — not another trustee
of the election, not an observer, not even an owner (403). An organisation trustee or
observer not named for the election, and another organisation: 404 on everything that looks
the election up (it does not exist for them); 403 on what their role can never do. A refused
call changes nothing and leaves no audit entry.
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

from .ceremony_helpers import make_trustees, name_trustees
from .conftest import OTHER_ORG, Builder, roll_csv

CALLERS = (
    "anonymous",
    "voter",
    "other-org",
    "unnamed-trustee",
    "observer",
    "named-observer",
    "admin",
    "owner",
    "trustee-1",
    "trustee-2",
)
READ, EDIT, STEP = "read", "edit", "step"
HEX = "ab" * 32
NAMED_OBSERVER = "0b5e77e2-0000-4000-8000-000000000001"
UNSEEN = ("other-org", "unnamed-trustee", "observer")  # callers the election is hidden from


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {e} is the election; trustee steps are for trustee 1
    kind: str
    success: int  # for the allowed caller(s), on a ceremony where nobody has registered
    body: dict[str, Any] | None = None


STEP_BASE = "/api/elections/{e}/ceremony/trustees/1"
ENDPOINTS = [
    Endpoint("GET", "/api/elections/{e}/ceremony", READ, 200),
    Endpoint(
        "PUT",
        "/api/elections/{e}/trustees",
        EDIT,
        200,
        body={"server_trustee": True},
    ),
    Endpoint("POST", "/api/elections/{e}/ceremony/restart", EDIT, 200),
    Endpoint("PUT", f"{STEP_BASE}/box-key", STEP, 200, body={"box_public_key": HEX}),
    Endpoint(
        "POST",
        f"{STEP_BASE}/dealing",
        STEP,
        409,  # not everyone has registered
        body={
            "ceremony_hash": HEX,
            "commitment": {
                "index": 1,
                "coefficients": [HEX, HEX],
                "proof": {"challenge": HEX, "response": HEX},
            },
            "shares": [],
        },
    ),
    Endpoint("GET", f"{STEP_BASE}/shares", STEP, 409),  # nobody has dealt
    Endpoint(
        "POST",
        f"{STEP_BASE}/verification",
        STEP,
        409,
        body={"ceremony_hash": HEX, "result": "ok"},
    ),
    Endpoint("POST", f"{STEP_BASE}/answers", STEP, 404, body={"accuser": 2, "share": HEX}),
]


def expected_status(endpoint: Endpoint, caller: str) -> int:
    if caller == "anonymous":
        return 401
    if caller == "voter":
        return 403
    if caller == "other-org":
        return 404
    if endpoint.kind == EDIT:  # a role check: no lookup, nothing revealed
        return endpoint.success if caller in ("admin", "owner") else 403
    if caller in UNSEEN:
        return 404
    if endpoint.kind == READ:
        return endpoint.success
    return endpoint.success if caller == "trustee-1" else 403


async def _audit_count(app: FastAPI) -> int:
    async with app.state.database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
async def test_ceremony_role_matrix(
    endpoint: Endpoint,
    client: httpx.AsyncClient,
    build: Builder,
    token: Callable[..., dict[str, str]],
    app: FastAPI,
) -> None:
    outcomes = {}
    for caller in CALLERS:
        election_id = str((await build.election())["id"])
        await build.question(election_id)
        await build.voters(election_id, roll_csv(2))
        trustees = make_trustees(client, token, election_id)
        assert (await name_trustees(client, build.headers, election_id, trustees, 2)).is_success
        assert (
            await client.put(
                f"/api/elections/{election_id}/observers",
                json={"account_ids": [NAMED_OBSERVER]},
                headers=build.headers,
            )
        ).is_success
        headers = {
            "anonymous": {},
            "voter": token("voter"),
            "other-org": token("owner", org=OTHER_ORG, subject=trustees[0].account_id),
            "unnamed-trustee": token("trustee", subject="someone-else"),
            "observer": token("observer"),
            "named-observer": token("observer", subject=NAMED_OBSERVER),
            "admin": token("admin"),
            "owner": token("owner"),
            "trustee-1": trustees[0].headers,
            "trustee-2": trustees[1].headers,
        }[caller]
        before = await _audit_count(app)
        response = await client.request(
            endpoint.method,
            endpoint.path.format(e=election_id),
            json=endpoint.body,
            headers=headers,
        )
        outcomes[caller] = response.status_code
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            assert await _audit_count(app) == before, caller
    assert outcomes == {caller: expected_status(endpoint, caller) for caller in CALLERS}


async def test_the_named_account_needs_the_trustee_role(
    client: httpx.AsyncClient, build: Builder, token: Callable[..., dict[str, str]]
) -> None:
    """The account named as trustee, logged in with another role, cannot act as trustee
    (as an observer not named for the election, the election does not even exist for it)."""
    election_id = str((await build.election())["id"])
    trustees = make_trustees(client, token, election_id)
    await name_trustees(client, build.headers, election_id, trustees, 2)
    outcomes = {}
    for role in ("observer", "admin", "owner"):
        response = await client.put(
            f"/api/elections/{election_id}/ceremony/trustees/1/box-key",
            json={"box_public_key": HEX},
            headers=token(role, subject=trustees[0].account_id),
        )
        outcomes[role] = response.status_code
    assert outcomes == {"observer": 404, "admin": 403, "owner": 403}
    await client.put(
        f"/api/elections/{election_id}/observers",
        json={"account_ids": [trustees[0].account_id]},
        headers=build.headers,
    )
    response = await client.put(
        f"/api/elections/{election_id}/ceremony/trustees/1/box-key",
        json={"box_public_key": HEX},
        headers=token("observer", subject=trustees[0].account_id),
    )
    assert response.status_code == 403
