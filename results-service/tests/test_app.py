"""The results service serves everything of its own under /api/results."""

from __future__ import annotations

from typing import Any

from results_service.app import PREFIX, create_app
from securevote.config import Settings


async def test_its_api_lives_under_its_prefix(settings: Settings, serve: Any) -> None:
    assert PREFIX == "/api/results"
    async with serve(create_app(settings)) as client:
        document = (await client.get(f"{PREFIX}/openapi.json")).json()
        ready = await client.get(f"{PREFIX}/ready")
    assert document["paths"]
    assert all(path.startswith(PREFIX) for path in document["paths"])
    assert ready.json()["service"] == "results"
