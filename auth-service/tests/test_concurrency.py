"""Exactly once, enforced by the database: concurrent requests for the same change."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from auth_service.models import Account as AccountRow
from auth_service.models import RefreshToken

from .conftest import PASSWORD, World


async def test_a_refresh_token_is_spent_once_under_concurrency(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@example.org")
    token = owner.tokens["refresh_token"]
    answers = await asyncio.gather(
        *(world.client.post("/api/auth/refresh", json={"refresh_token": token}) for _ in range(8))
    )
    assert sorted(a.status_code for a in answers) == [200] + [401] * 7
    async with world.ctx.database.session() as session:
        issued = await session.scalar(select(func.count()).select_from(RefreshToken))
    assert issued == 2  # the login's token and exactly one successor


async def test_one_address_gets_one_account_under_concurrency(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@example.org")
    body = {"display_name": "Twin", "role": "admin", "password": PASSWORD}
    answers = await asyncio.gather(
        *(
            world.client.post(
                "/api/auth/accounts", headers=owner.headers, json=body | {"email": email}
            )
            for email in ["twin@example.org", "TWIN@example.org", "Twin@Example.org"] * 2
        )
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5
    async with world.ctx.database.session() as session:
        twins = await session.scalar(
            select(func.count())
            .select_from(AccountRow)
            .where(AccountRow.email_key == "twin@example.org")
        )
    assert twins == 1


async def test_concurrent_failures_are_all_counted(world: World) -> None:
    owner = await world.owner("Acme Union", "owner@example.org")
    answers = await asyncio.gather(*(world.login(owner.email, "wrong") for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [401, 401, 429]
    assert (await world.login(owner.email, PASSWORD)).status_code == 429
