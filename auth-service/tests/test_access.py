"""The role matrix: every endpoint, called by every kind of caller.

Function checks come first (403 for a role that may not do this, 401 without a token, 403
for a voter token); object checks next (another organisation's account is "not found",
exactly like an account that does not exist)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from securevote.auth import Role

from .conftest import PASSWORD, Account, World

CALLERS = (
    "anonymous",
    "voter",
    "trustee",
    "observer",
    "other_owner",
    "other_admin",
    "admin",
    "owner",
)
_serial = itertools.count()


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    body: Any
    expected: dict[str, int]  # caller -> status


def _everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(CALLERS, status)


def _signed_in(status: int) -> dict[str, int]:
    """Any account of any organisation and role may; others may not."""
    return {**_everyone(status), "anonymous": 401, "voter": 403}


def _only(allowed: dict[str, int], others: int = 403) -> dict[str, int]:
    return {**_everyone(others), "anonymous": 401, "voter": 403, **allowed}


def _cases(target: Account) -> list[Case]:
    account = f"/api/auth/accounts/{target.id}"
    return [
        Case("POST", "/api/auth/login", "wrong-login", _everyone(401)),
        Case("POST", "/api/auth/refresh", {"refresh_token": "D" * 43}, _everyone(401)),
        Case("POST", "/api/auth/logout", {"refresh_token": "D" * 43}, _everyone(204)),
        Case("GET", "/api/auth/jwks", None, _everyone(200)),
        Case("GET", "/api/auth/me", None, _signed_in(200)),
        Case(
            "POST",
            "/api/auth/password",
            {"current_password": "wrong", "new_password": "long enough password"},
            _signed_in(400),
        ),
        Case("POST", "/api/auth/totp/enrol", {"password": "wrong"}, _signed_in(400)),
        Case("POST", "/api/auth/totp/confirm", {"code": "123456"}, _signed_in(409)),
        Case(
            "POST", "/api/auth/totp/disable", {"password": "p", "code": "123456"}, _signed_in(409)
        ),
        Case(
            "GET",
            "/api/auth/accounts",
            None,
            _only({"owner": 200, "admin": 200, "other_owner": 200, "other_admin": 200}),
        ),
        Case(
            "POST", "/api/auth/accounts", "new-account", _only({"owner": 201, "other_owner": 201})
        ),
        Case(
            "GET",
            account,
            None,
            _only({"owner": 200, "admin": 200, "other_owner": 404, "other_admin": 404}),
        ),
        Case(
            "PATCH", account, {"display_name": "Renamed"}, _only({"owner": 200, "other_owner": 404})
        ),
    ]


def _body(body: Any) -> Any:
    if body == "wrong-login":  # a fresh address each time, so that none locks out
        return {"email": f"x{next(_serial)}@example.org", "password": "p"}
    if body == "new-account":
        return {
            "email": f"new{next(_serial)}@example.org",
            "display_name": "New",
            "role": "observer",
            "password": PASSWORD,
        }
    return body


async def _callers(world: World) -> tuple[dict[str, dict[str, str]], Account, Account]:
    owner = await world.owner("Acme Union", "owner@acme.example")
    other_owner = await world.owner("Other Guild", "owner@other.example")
    members = {
        "admin": await world.member(owner, "admin@acme.example", Role.ADMIN),
        "trustee": await world.member(owner, "trustee@acme.example", Role.TRUSTEE),
        "observer": await world.member(owner, "observer@acme.example", Role.OBSERVER),
        "other_admin": await world.member(other_owner, "admin@other.example", Role.ADMIN),
    }
    voter = world.ctx.signer.issue(
        {"sub": "voter", "kind": "voter", "eid": str(uuid.uuid4()), "cred": "c" * 32},
        ttl_seconds=300,
    )
    headers = {
        "anonymous": {},
        "voter": {"Authorization": f"Bearer {voter}"},
        "owner": owner.headers,
        "other_owner": other_owner.headers,
        **{name: account.headers for name, account in members.items()},
    }
    return headers, owner, members["trustee"]


async def test_every_endpoint_checks_function_and_object(world: World) -> None:
    headers, _owner, target = await _callers(world)
    mismatches = []
    for case in _cases(target):
        for caller in CALLERS:
            response = await world.client.request(
                case.method, case.path, headers=headers[caller], json=_body(case.body)
            )
            if response.status_code != case.expected[caller]:
                mismatches.append(
                    f"{case.method} {case.path} as {caller}: {response.status_code} "
                    f"(expected {case.expected[caller]}) {response.text[:200]}"
                )
    assert not mismatches, "\n".join(mismatches)


def _without_request_id(response: httpx.Response) -> dict[str, Any]:
    return {k: v for k, v in response.json().items() if k != "request_id"}


async def test_another_organisation_cannot_see_or_touch_accounts(world: World) -> None:
    headers, owner, target = await _callers(world)
    theirs = await world.client.get("/api/auth/accounts", headers=headers["other_owner"])
    emails = {account["email"] for account in theirs.json()["accounts"]}
    assert emails == {"owner@other.example", "admin@other.example"}

    hidden = await world.client.get(
        f"/api/auth/accounts/{target.id}", headers=headers["other_owner"]
    )
    absent = await world.client.get(
        f"/api/auth/accounts/{uuid.uuid4()}", headers=headers["other_owner"]
    )
    assert hidden.status_code == absent.status_code == 404
    assert _without_request_id(hidden) == _without_request_id(absent)
    changed = await world.client.patch(
        f"/api/auth/accounts/{target.id}", headers=headers["other_owner"], json={"role": "owner"}
    )
    assert changed.status_code == 404
    # Nothing changed by the refused attempts.
    mine = await world.client.get(f"/api/auth/accounts/{target.id}", headers=owner.headers)
    assert mine.json()["display_name"] == "Member"
    assert mine.json()["role"] == "trustee"


async def test_a_role_change_takes_effect_at_once(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@acme.example")
    second = await world.member(owner, "second@acme.example", Role.OWNER)
    demoted = await world.client.patch(
        f"/api/auth/accounts/{second.id}", headers=owner.headers, json={"role": "observer"}
    )
    assert demoted.status_code == 200 and demoted.json()["role"] == "observer"
    # The old token still says "owner"; the database says otherwise.
    refused = await world.client.post(
        "/api/auth/accounts",
        headers=second.headers,
        json={
            "email": "x@acme.example",
            "display_name": "X",
            "role": "admin",
            "password": PASSWORD,
        },
    )
    assert refused.status_code == 403


async def test_the_last_owner_cannot_be_demoted_or_disabled(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@acme.example")
    for change in ({"role": "admin"}, {"disabled": True}):
        response = await world.client.patch(
            f"/api/auth/accounts/{owner.id}", headers=owner.headers, json=change
        )
        assert response.status_code == 409, change
    second = await world.member(owner, "second@acme.example", Role.OWNER)
    ok = await world.client.patch(
        f"/api/auth/accounts/{owner.id}", headers=second.headers, json={"role": "admin"}
    )
    assert ok.status_code == 200


async def test_account_input_is_validated_at_the_edge(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@acme.example")
    good = {"email": "a@acme.example", "display_name": "A", "role": "admin", "password": PASSWORD}
    bad_bodies = [
        good | {"email": "not an address"},
        good | {"role": "superuser"},
        good | {"password": "short"},
        good | {"display_name": ""},
        good | {"display_name": "x" * 201},
        good | {"extra": 1},
        good | {"password": 123456789012345},
    ]
    for body in bad_bodies:
        response = await world.client.post("/api/auth/accounts", headers=owner.headers, json=body)
        assert response.status_code == 422, body
        assert PASSWORD not in response.text
    empty = await world.client.patch(
        f"/api/auth/accounts/{owner.id}", headers=owner.headers, json={}
    )
    assert empty.status_code == 422
    assert (
        await world.client.get("/api/auth/accounts/not-a-uuid", headers=owner.headers)
    ).status_code == 422
    created = await world.client.post("/api/auth/accounts", headers=owner.headers, json=good)
    assert created.status_code == 201
    duplicate = await world.client.post(
        "/api/auth/accounts", headers=owner.headers, json=good | {"email": "A@ACME.example"}
    )
    assert duplicate.status_code == 409
