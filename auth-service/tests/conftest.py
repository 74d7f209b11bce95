"""Fixtures of the auth-service tests: the app on a migrated database (SQLite and
PostgreSQL, from the root conftest), a clock the tests can move, and account helpers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from auth_service import accounts
from auth_service.app import create_app
from auth_service.context import AuthContext
from auth_service.policy import TEST_ARGON2, AuthPolicy
from securevote.auth import Role
from securevote.config import Settings

PASSWORD = "correct horse battery staple"


class FakeClock:
    """Real time to start with; tests move it forward to expire lockouts and TOTP steps."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Account:
    id: str
    email: str
    role: Role
    organisation_id: str
    password: str = PASSWORD
    tokens: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}


@dataclass
class World:
    app: FastAPI
    client: httpx.AsyncClient
    clock: FakeClock
    settings: Settings

    @property
    def ctx(self) -> AuthContext:
        context: AuthContext = self.app.state.auth
        return context

    async def owner(self, organisation: str, email: str) -> Account:
        """A new owner (as `securevote admin create` makes one), logged in."""
        created = await accounts.create_owner(
            ctx=self.ctx,
            organisation_name=organisation,
            email=email,
            display_name=email.partition("@")[0],
            password=PASSWORD,
        )
        account = Account(created.account.id, email, Role.OWNER, created.organisation.id)
        await self.log_in(account)
        return account

    async def member(self, owner: Account, email: str, role: Role) -> Account:
        """An account created by ``owner`` through the API, logged in."""
        response = await self.client.post(
            "/api/auth/accounts",
            headers=owner.headers,
            json={"email": email, "display_name": "Member", "role": role, "password": PASSWORD},
        )
        assert response.status_code == 201, response.text
        account = Account(response.json()["id"], email, role, owner.organisation_id)
        await self.log_in(account)
        return account

    async def log_in(self, account: Account, **extra: Any) -> httpx.Response:
        response = await self.login(account.email, account.password, **extra)
        assert response.status_code == 200, response.text
        account.tokens = response.json()
        return response

    async def login(self, email: str, password: str, **extra: Any) -> httpx.Response:
        return await self.client.post(
            "/api/auth/login", json={"email": email, "password": password, **extra}
        )


def make_policy(clock: FakeClock, **overrides: Any) -> AuthPolicy:
    values: dict[str, Any] = {
        "argon2": TEST_ARGON2,
        "lockout_failures": 3,
        "lockout_seconds": 600,
        "address_attempts": 10_000,
        "clock": clock,
    }
    values.update(overrides)
    return AuthPolicy(**values)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def world(settings: Settings, serve: Any, clock: FakeClock) -> AsyncIterator[World]:
    app = create_app(settings, policy=make_policy(clock))
    async with serve(app) as client:
        yield World(app, client, clock, settings)
