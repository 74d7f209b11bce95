"""With SECUREVOTE_READ_DATABASE_URL the public result pages read the replica; everything else
(the record, which the first download may store, and every admin endpoint) the primary."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from securevote import migrations
from securevote.config import Settings

from .conftest import Stack

RESULTS = "/api/results/elections/{}"


async def test_public_results_come_from_the_replica(
    client: httpx.AsyncClient,
    flows: Any,
    tokens: Callable[..., dict[str, str]],
    election_factory: Callable[..., Any],
    settings: Settings,
    serve: Any,
    tmp_path: Path,
) -> None:
    election = await election_factory()
    await flows.vote_and_close(election)
    await flows.tally_and_decrypt(election)
    base = RESULTS.format(election.id)
    owner = tokens("owner")
    assert (await client.post(f"{base}/publish", headers=owner)).status_code == 200

    # A replica that has not caught up yet: migrated, but without this election.
    replica = f"sqlite+aiosqlite:///{tmp_path / 'replica.db'}"
    await asyncio.to_thread(migrations.upgrade, Settings(mode="test", database_url=replica))
    with_replica = settings.model_copy(update={"read_database_url": replica})
    async with serve(Stack(with_replica)) as lagging:
        for page in ("results", "results.csv", "results.svg"):
            assert (await lagging.get(f"{base}/{page}")).status_code == 404, page
        assert (await lagging.get(f"{base}/record")).status_code == 200
        assert (await lagging.get(f"{base}/tally", headers=owner)).json()["status"] == "done"

    # The same replica URL as the primary: the pages are there.
    caught_up = settings.model_copy(update={"read_database_url": settings.database_url})
    async with serve(Stack(caught_up)) as current:
        response = await current.get(f"{base}/results")
        assert response.status_code == 200
        assert response.json() == (await client.get(f"{base}/results")).json()
