"""Calling another service's API: the same code in both run modes.

In the all-in-one process every service app is registered as a peer of the others, and a
client talks to the peer in process (httpx's ASGI transport: no socket, no serialisation
shortcut — the request goes through the peer's middleware, validation and access checks).
Apart, a service finds the others through ``SECUREVOTE_SERVICE_URLS``
(``election=http://election:8000,voting=http://voting:8000``).
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from fastapi import FastAPI
from starlette.types import ASGIApp

from securevote.config import ConfigurationError

TIMEOUT = httpx.Timeout(10.0, connect=3.0)


def register_peers(apps: Mapping[str, FastAPI]) -> None:
    """Let every app of one process reach the others in process."""
    for app in apps.values():
        app.state.peers = dict(apps)


def service_client(app: FastAPI, service: str) -> httpx.AsyncClient:
    """An HTTP client for ``service`` as seen from ``app``; close it after use
    (``async with service_client(app, "election") as client: …``)."""
    peers: Mapping[str, ASGIApp] = getattr(app.state, "peers", {})
    if service in peers:
        transport = httpx.ASGITransport(app=peers[service])
        return httpx.AsyncClient(
            transport=transport, base_url=f"http://{service}.in-process", timeout=TIMEOUT
        )
    urls = app.state.settings.service_urls
    if service not in urls:
        raise ConfigurationError(
            f"no address for the {service} service: set SECUREVOTE_SERVICE_URLS "
            f"(for example {service}=http://{service}:8000)"
        )
    return httpx.AsyncClient(base_url=urls[service], timeout=TIMEOUT)
