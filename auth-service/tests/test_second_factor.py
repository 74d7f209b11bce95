"""TOTP second factor through the API: enrol, confirm, login with and without a code,
replay, disable. Codes come from the RFC 6238 implementation checked against the RFC's
own vectors in test_building_blocks."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from sqlalchemy import select

from auth_service import totp
from auth_service.models import Account as AccountRow

from .conftest import PASSWORD, Account, World


def _code(world: World, secret: str, steps_ahead: int = 0) -> str:
    return totp.code_for_step(secret, totp.step_at(world.clock()) + steps_ahead)


async def _enable(world: World, account: Account) -> str:
    enrolled = await world.client.post(
        "/api/auth/totp/enrol", headers=account.headers, json={"password": PASSWORD}
    )
    assert enrolled.status_code == 200, enrolled.text
    assert enrolled.headers["cache-control"] == "no-store"
    secret: str = enrolled.json()["secret"]
    assert parse_qs(urlparse(enrolled.json()["otpauth_uri"]).query)["secret"] == [secret]
    confirmed = await world.client.post(
        "/api/auth/totp/confirm", headers=account.headers, json={"code": _code(world, secret)}
    )
    assert confirmed.status_code == 204, confirmed.text
    world.clock.advance(30)  # the next code belongs to the next step
    return secret


async def test_enrol_confirm_then_login_needs_the_code(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@example.org")
    secret = await _enable(world, owner)
    me = await world.client.get("/api/auth/me", headers=owner.headers)
    assert me.json()["account"]["totp_enabled"] is True
    assert secret not in me.text

    without = await world.login(owner.email, PASSWORD)
    assert without.status_code == 401 and without.json()["code"] == "totp_required"
    wrong = await world.login(owner.email, PASSWORD, totp_code="000000")
    if wrong.status_code != 401:  # one chance in a million that 000000 is the code
        wrong = await world.login(owner.email, PASSWORD, totp_code="999999")
    assert wrong.status_code == 401 and wrong.json()["code"] == "totp_invalid"
    code = _code(world, secret)
    assert (await world.login(owner.email, PASSWORD, totp_code=code)).status_code == 200
    # The same code twice is refused: a code is good for one login.
    replay = await world.login(owner.email, PASSWORD, totp_code=code)
    assert replay.status_code == 401
    # A wrong password with a right code is the ordinary wrong-password answer.
    world.clock.advance(30)
    bad = await world.login(owner.email, "wrong", totp_code=_code(world, secret))
    assert bad.json()["code"] == "invalid_credentials"


async def test_wrong_codes_count_towards_the_lockout(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@example.org")
    secret = await _enable(world, owner)
    right = _code(world, secret)
    wrong = "000001" if right != "000001" else "000002"
    answers = [await world.login(owner.email, PASSWORD, totp_code=wrong) for _ in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 429]


async def test_nothing_changes_until_confirmed_and_enrolment_needs_the_password(
    world: World,
) -> None:
    owner = await world.owner("Acme Union", "owner@example.org")
    refused = await world.client.post(
        "/api/auth/totp/enrol", headers=owner.headers, json={"password": "wrong"}
    )
    assert refused.status_code == 400
    nothing = await world.client.post(
        "/api/auth/totp/confirm", headers=owner.headers, json={"code": "123456"}
    )
    assert nothing.status_code == 409
    enrolled = await world.client.post(
        "/api/auth/totp/enrol", headers=owner.headers, json={"password": PASSWORD}
    )
    secret = enrolled.json()["secret"]
    # Pending only: login still needs no code.
    assert (await world.login(owner.email, PASSWORD)).status_code == 200
    bad = "000000" if _code(world, secret) != "000000" else "111111"
    wrong = await world.client.post(
        "/api/auth/totp/confirm", headers=owner.headers, json={"code": bad}
    )
    assert wrong.status_code == 400
    # The secret is stored sealed, never as given out.
    async with world.ctx.database.session() as session:
        stored = await session.scalar(select(AccountRow.totp_secret))
    assert stored is not None and secret not in stored


async def test_disable_needs_password_and_code(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@example.org")
    secret = await _enable(world, owner)
    again = await world.client.post(
        "/api/auth/totp/enrol", headers=owner.headers, json={"password": PASSWORD}
    )
    assert again.status_code == 409
    no_password = await world.client.post(
        "/api/auth/totp/disable",
        headers=owner.headers,
        json={"password": "wrong", "code": _code(world, secret)},
    )
    assert no_password.status_code == 400
    world.clock.advance(30)
    disabled = await world.client.post(
        "/api/auth/totp/disable",
        headers=owner.headers,
        json={"password": PASSWORD, "code": _code(world, secret)},
    )
    assert disabled.status_code == 204
    assert (await world.login(owner.email, PASSWORD)).status_code == 200
    bad_code = await world.client.post(
        "/api/auth/totp/disable", headers=owner.headers, json={"password": PASSWORD, "code": "1"}
    )
    assert bad_code.status_code == 422
