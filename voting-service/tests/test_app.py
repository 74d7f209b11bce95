"""The voting service serves everything of its own under /api/ballots."""

from __future__ import annotations

from typing import Any

from securevote.config import Settings
from voting_service.app import PREFIX, create_app


async def test_its_api_lives_under_its_prefix(settings: Settings, serve: Any) -> None:
    assert PREFIX == "/api/ballots"
    async with serve(create_app(settings)) as client:
        document = (await client.get(f"{PREFIX}/openapi.json")).json()
        ready = await client.get(f"{PREFIX}/ready")
    assert document["paths"]
    assert all(path.startswith(PREFIX) for path in document["paths"])
    assert ready.json()["service"] == "voting"
