"""The all-in-one process dispatches each prefix to its service and shares one database."""

from __future__ import annotations

from typing import Any

from securevote.config import Settings
from securevote_server.allinone import API_PREFIXES, SERVICE_FACTORIES, create_all_in_one


async def test_each_prefix_reaches_its_own_service(settings: Settings, serve: Any) -> None:
    app = create_all_in_one(settings)
    async with serve(app) as client:
        for name, prefix in API_PREFIXES.items():
            health = await client.get(f"{prefix}/health")
            assert health.json() == {"status": "ok", "service": name}
            ready = await client.get(f"{prefix}/ready")
            assert ready.status_code == 200, ready.text
            openapi = (await client.get(f"{prefix}/openapi.json")).json()
            assert all(path.startswith(prefix) for path in openapi["paths"])
        root = await client.get("/health")
        assert root.json() == {"status": "ok", "service": "frontend"}
        assert (await client.get("/ready")).status_code == 200
        assert "secure-vote" in (await client.get("/")).text
        metrics = (await client.get("/metrics")).text
    for name in API_PREFIXES:
        assert f'service="{name}"' in metrics
    assert {app.state.database for app in app.apps.values()} == {app.database}


async def test_every_service_runs_alone_with_the_same_urls(settings: Settings, serve: Any) -> None:
    for name, factory in SERVICE_FACTORIES.items():
        prefix = API_PREFIXES.get(name, "")
        async with serve(factory(settings)) as client:
            assert (await client.get(f"{prefix}/health")).json()["service"] == name
            assert (await client.get("/ready")).status_code == 200
            assert (await client.get("/metrics")).status_code == 200
