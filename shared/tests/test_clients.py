"""Service clients reach a peer in process (all-in-one) or over HTTP (apart)."""

from __future__ import annotations

from typing import Any

import pytest

from securevote.clients import register_peers, service_client
from securevote.config import ConfigurationError, Settings
from securevote.webapp import create_service_app


async def test_a_peer_in_the_same_process_is_called_through_its_whole_stack(
    settings: Settings, serve: Any
) -> None:
    caller = create_service_app(
        name="caller", prefix="/api/caller", settings=settings, database=None, title="caller"
    )
    callee = create_service_app(
        name="callee", prefix="/api/callee", settings=settings, database=None, title="callee"
    )
    register_peers({"caller": caller, "callee": callee})
    async with serve(callee), service_client(caller, "callee") as client:
        health = await client.get("/api/callee/health")
        missing = await client.get("/api/callee/nothing")
    assert health.json() == {"status": "ok", "service": "callee"}
    assert missing.headers["content-type"] == "application/problem+json"


def test_apart_a_service_needs_an_address(settings: Settings) -> None:
    app = create_service_app(
        name="caller", prefix="/api/caller", settings=settings, database=None, title="caller"
    )
    with pytest.raises(ConfigurationError, match="SECUREVOTE_SERVICE_URLS"):
        service_client(app, "election")
    configured = settings.model_copy(update={"service_urls": {"election": "http://127.0.0.1:9"}})
    app = create_service_app(
        name="caller", prefix="/api/caller", settings=configured, database=None, title="caller"
    )
    assert str(service_client(app, "election").base_url) == "http://127.0.0.1:9"
