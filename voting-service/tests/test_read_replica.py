"""With SECUREVOTE_READ_DATABASE_URL the board's pages read the replica; casting, look-ups,
heads and proofs read and write the primary."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from securevote import migrations
from securevote.config import Settings
from voting_service.app import create_app


async def test_board_pages_come_from_the_replica(
    settings: Settings, kit: Any, voter: Callable[..., Any], serve: Any, tmp_path: Path
) -> None:
    context = await kit.election()
    replica = f"sqlite+aiosqlite:///{tmp_path / 'replica.db'}"
    await asyncio.to_thread(migrations.upgrade, Settings(mode="test", database_url=replica))
    lagging = create_app(settings.model_copy(update={"read_database_url": replica}))
    alice = voter()
    ballot = kit.encrypt(context, alice.credential)[0]
    async with serve(lagging) as client:
        cast = await client.post(kit.cast_path(), json=kit.cast_body(ballot), headers=alice.headers)
        assert cast.status_code == 201, cast.text
        tracker = cast.json()["receipt"]["tracker"]
        # The replica has not caught up: the page is empty, the primary knows the ballot.
        page = (await client.get(f"{kit.board_path()}/ballots")).json()
        assert page["entries"] == []
        found = await client.get(f"{kit.board_path()}/trackers/{tracker}")
        assert found.status_code == 200 and found.json()["board_index"] == 0

    caught_up = create_app(settings.model_copy(update={"read_database_url": settings.database_url}))
    async with serve(caught_up) as client:
        page = (await client.get(f"{kit.board_path()}/ballots")).json()
        assert [entry["tracker"] for entry in page["entries"]] == [tracker]
