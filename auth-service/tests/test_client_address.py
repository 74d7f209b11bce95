"""Login rate limits are per client address: a spoofed X-Forwarded-For from an untrusted
peer is ignored, the one a trusted proxy adds is used."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from ipaddress import ip_network

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from auth_service.app import create_app
from securevote.config import Settings

from .conftest import FakeClock, make_policy

ATTEMPTS = 3


@asynccontextmanager
async def _from(app: FastAPI, peer: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _login(client: httpx.AsyncClient, n: int, forwarded: str | None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    # A new unknown address each time, so that only the per-address limit can refuse.
    body = {"email": f"nobody{n}@example.org", "password": "wrong password"}
    response = await client.post("/api/auth/login", json=body, headers=headers)
    return response.status_code


async def test_a_spoofed_forwarded_address_from_an_untrusted_peer_is_ignored(
    settings: Settings,
) -> None:
    app = create_app(settings, policy=make_policy(FakeClock(), address_attempts=ATTEMPTS))
    async with LifespanManager(app), _from(app, "203.0.113.9") as client:
        codes = [await _login(client, n, f"198.51.100.{n}") for n in range(ATTEMPTS + 1)]
    assert codes == [401] * ATTEMPTS + [429]


async def test_a_trusted_proxy_gives_each_client_its_own_bucket(settings: Settings) -> None:
    trusting = settings.model_copy(update={"trusted_proxies": (ip_network("10.0.0.0/8"),)})
    app = create_app(trusting, policy=make_policy(FakeClock(), address_attempts=ATTEMPTS))
    async with LifespanManager(app), _from(app, "10.0.0.2") as proxy:
        first = [await _login(proxy, n, "198.51.100.1") for n in range(ATTEMPTS + 1)]
        other = await _login(proxy, 99, "192.0.2.1, 198.51.100.2")
        # The client cannot escape its bucket by writing its own header: the proxy appends.
        again = await _login(proxy, 100, "192.0.2.50, 198.51.100.1")
    assert first == [401] * ATTEMPTS + [429]
    assert other == 401
    assert again == 429
