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


def test_prod_needs_a_board_signing_seed_that_is_not_the_public_one() -> None:
    import base64

    import pytest

    from securevote.config import DEV_BOARD_SEED, ConfigurationError
    from voting_service.board import board_key_from_settings

    strong = {
        "mode": "prod",
        "secret_key": "x" * 48,
        "jwt_public_keys": base64.b64encode(bytes(32)).decode(),
    }
    with pytest.raises(ConfigurationError, match="BOARD_SIGNING_SEED is not set"):
        create_app(Settings(**strong))
    with pytest.raises(ConfigurationError, match="BOARD_SIGNING_SEED is the public development"):
        Settings(**strong, board_signing_seed=DEV_BOARD_SEED)
    seed = base64.b64encode(bytes(range(32))).decode()
    key = board_key_from_settings(Settings(**strong, board_signing_seed=seed))
    assert len(key.public_key) == 32
    with pytest.raises(ConfigurationError, match="32 bytes"):
        board_key_from_settings(Settings(mode="test", board_signing_seed="AAAA"))
