"""Login, refresh, logout and lockout through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from auth_service.app import create_app
from auth_service.models import RefreshToken
from securevote.auth import PrincipalKind, Role, TokenVerifier, principal_from_claims
from securevote.config import Settings

from .conftest import PASSWORD, FakeClock, World, make_policy


def _comparable(response: httpx.Response) -> tuple[int, dict[str, Any]]:
    """Status and body, without the request id (different for every request)."""
    body = response.json()
    body.pop("request_id", None)
    return response.status_code, body


async def test_login_returns_a_short_access_token_the_jwks_verifies(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@example.org")
    response = await world.login("OWNER@Example.org", PASSWORD)  # any case of the address
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    jwks = (await world.client.get("/api/auth/jwks")).json()
    claims = TokenVerifier.from_jwks(jwks).verify(body["access_token"])
    assert claims["sub"] == owner.id
    assert claims["kind"] == "admin"
    assert claims["org"] == owner.organisation_id
    assert claims["roles"] == ["owner"]
    assert claims["exp"] - claims["iat"] == 600
    principal = principal_from_claims(claims)
    assert principal.kind is PrincipalKind.ADMIN and principal.has_role(Role.OWNER)

    me = await world.client.get("/api/auth/me", headers=owner.headers)
    assert me.status_code == 200
    assert me.json()["account"]["email"] == "owner@example.org"
    assert me.json()["organisation"] == {"id": owner.organisation_id, "name": "Acme Union"}
    assert "password" not in me.text and "totp_secret" not in me.text


async def test_unknown_account_and_wrong_password_answer_identically(world: World) -> None:
    await world.owner("Acme Union", "owner@example.org")
    wrong = await world.login("owner@example.org", "not the password")
    unknown = await world.login("nobody@example.org", "not the password")
    assert wrong.status_code == 401
    assert _comparable(wrong) == _comparable(unknown)
    assert wrong.headers.get("www-authenticate") == unknown.headers.get("www-authenticate")
    assert _comparable(wrong)[1]["code"] == "invalid_credentials"


async def test_a_disabled_account_answers_like_a_wrong_password(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@example.org")
    admin = await world.member(owner, "admin@example.org", Role.ADMIN)
    patched = await world.client.patch(
        f"/api/auth/accounts/{admin.id}", headers=owner.headers, json={"disabled": True}
    )
    assert patched.status_code == 200 and patched.json()["disabled"] is True
    right_password = await world.login("admin@example.org", PASSWORD)
    unknown = await world.login("nobody@example.org", PASSWORD)
    assert _comparable(right_password) == _comparable(unknown)
    # Its sessions ended with it.
    refreshed = await world.client.post(
        "/api/auth/refresh", json={"refresh_token": admin.tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401
    assert (await world.client.get("/api/auth/me", headers=admin.headers)).status_code == 401


async def test_failures_lock_the_account_with_429_and_retry_after(world: World) -> None:
    await world.owner("Acme Union", "owner@example.org")
    answers = [await world.login("owner@example.org", f"wrong {n}") for n in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 429]
    assert answers[2].headers["retry-after"] == "600"
    # Locked: even the right password is refused until the lock ends.
    locked = await world.login("owner@example.org", PASSWORD)
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= 600
    assert locked.json()["code"] == "too_many_attempts"
    world.clock.advance(601)
    assert (await world.login("owner@example.org", PASSWORD)).status_code == 200


async def test_unknown_addresses_lock_out_the_same_way(world: World) -> None:
    known = [await world.login("nobody@example.org", f"wrong {n}") for n in range(4)]
    await world.owner("Acme Union", "owner@example.org")
    real = [await world.login("owner@example.org", f"wrong {n}") for n in range(4)]
    assert [_comparable(a) for a in known] == [_comparable(a) for a in real]
    assert [a.status_code for a in known] == [401, 401, 429, 429]


async def test_a_success_resets_the_failure_count(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@example.org")
    for _ in range(2):
        assert (await world.login(owner.email, "wrong")).status_code == 401
    assert (await world.login(owner.email, PASSWORD)).status_code == 200
    for _ in range(2):
        assert (await world.login(owner.email, "wrong")).status_code == 401
    assert (await world.login(owner.email, PASSWORD)).status_code == 200


async def test_refresh_rotates_and_a_reused_token_revokes_the_family(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@example.org")
    first = owner.tokens["refresh_token"]
    rotated = await world.client.post("/api/auth/refresh", json={"refresh_token": first})
    assert rotated.status_code == 200
    assert rotated.headers["cache-control"] == "no-store"
    second = rotated.json()["refresh_token"]
    assert second != first
    assert rotated.json()["access_token"] != owner.tokens["access_token"]

    # The first token again: someone kept a copy. Refused, and the family is revoked,
    # so the legitimate newest token stops working too.
    reused = await world.client.post("/api/auth/refresh", json={"refresh_token": first})
    assert reused.status_code == 401 and reused.json()["code"] == "invalid_refresh_token"
    after = await world.client.post("/api/auth/refresh", json={"refresh_token": second})
    assert after.status_code == 401
    # Another login session of the same account is untouched.
    other = await world.login(owner.email, PASSWORD)
    refreshed = await world.client.post(
        "/api/auth/refresh", json={"refresh_token": other.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200


async def test_unknown_and_expired_refresh_tokens_are_refused_alike(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@example.org")
    unknown = await world.client.post("/api/auth/refresh", json={"refresh_token": "A" * 43})
    world.clock.advance(12 * 3600 + 1)
    expired = await world.client.post(
        "/api/auth/refresh", json={"refresh_token": owner.tokens["refresh_token"]}
    )
    assert _comparable(unknown) == _comparable(expired)
    assert unknown.status_code == 401
    malformed = await world.client.post("/api/auth/refresh", json={"refresh_token": "x y"})
    assert malformed.status_code == 422
    assert "x y" not in malformed.text


async def test_logout_revokes_the_refresh_family(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@example.org")
    rotated = await world.client.post(
        "/api/auth/refresh", json={"refresh_token": owner.tokens["refresh_token"]}
    )
    newest = rotated.json()["refresh_token"]
    out = await world.client.post("/api/auth/logout", json={"refresh_token": newest})
    assert out.status_code == 204
    again = await world.client.post("/api/auth/refresh", json={"refresh_token": newest})
    assert again.status_code == 401
    # Logging out twice, or with an unknown token, answers the same.
    assert (
        await world.client.post("/api/auth/logout", json={"refresh_token": newest})
    ).status_code == 204
    assert (
        await world.client.post("/api/auth/logout", json={"refresh_token": "B" * 43})
    ).status_code == 204
    async with world.ctx.database.session() as session:
        rows = (await session.scalars(select(RefreshToken))).all()
    assert rows and all(row.revoked_at is not None for row in rows)


async def test_per_address_rate_limit_answers_429(
    settings: Settings, serve: Any, clock: FakeClock
) -> None:
    app = create_app(settings, policy=make_policy(clock, address_attempts=3))
    async with serve(app) as client:
        body = {"email": "nobody@example.org", "password": "guess"}
        answers = [
            await client.post("/api/auth/login", json=body | {"email": f"u{n}@x.org"})
            for n in range(4)
        ]
        assert [a.status_code for a in answers] == [401, 401, 401, 429]
        assert answers[3].headers["retry-after"] == "60"
        # Refresh has a window of its own.
        refresh = await client.post("/api/auth/refresh", json={"refresh_token": "C" * 43})
        assert refresh.status_code == 401
        clock.advance(60)
        assert (await client.post("/api/auth/login", json=body)).status_code == 401


async def test_password_change_ends_sessions_and_counts_failures(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@example.org")
    wrong = await world.client.post(
        "/api/auth/password",
        headers=owner.headers,
        json={"current_password": "wrong", "new_password": "a much better passphrase"},
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "confirmation_failed"
    changed = await world.client.post(
        "/api/auth/password",
        headers=owner.headers,
        json={"current_password": PASSWORD, "new_password": "a much better passphrase"},
    )
    assert changed.status_code == 204
    refreshed = await world.client.post(
        "/api/auth/refresh", json={"refresh_token": owner.tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401
    assert (await world.login(owner.email, PASSWORD)).status_code == 401
    assert (await world.login(owner.email, "a much better passphrase")).status_code == 200
