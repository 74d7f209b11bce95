"""The election record is built once after publication and stored: every download is the
same bytes (the ones the verifier checks, identical to a fresh build), under a strong ETag and
cached for good; concurrent first downloads store it exactly once."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select

from results_service import record_store, service
from results_service.models import ElectionRecord, ElectionRecordChunk
from results_service.record_export import write_published_record
from securevote.db import Database
from securevote.verify import verify_record

RESULTS = "/api/results/elections/{}"


async def _published(flows: Any, client: httpx.AsyncClient, election: Any, owner: Any) -> str:
    await flows.vote_and_close(election)
    await flows.tally_and_decrypt(election)
    base = RESULTS.format(election.id)
    assert (await client.post(f"{base}/publish", headers=owner)).status_code == 200
    return base


async def _stored(database: Database) -> tuple[int, int]:
    async with database.session() as session:
        records = await session.scalar(select(func.count()).select_from(ElectionRecord))
        chunks = await session.scalar(select(func.count()).select_from(ElectionRecordChunk))
    return int(records or 0), int(chunks or 0)


async def test_the_record_is_stored_once_and_served_with_a_strong_etag(
    client: httpx.AsyncClient,
    flows: Any,
    tokens: Callable[..., dict[str, str]],
    election_factory: Callable[..., Any],
    database: Database,
    tmp_path: Path,
) -> None:
    election = await election_factory()
    base = await _published(flows, client, election, tokens("owner"))
    assert await _stored(database) == (1, 1)  # built at publication

    first = await client.get(f"{base}/record")
    assert first.status_code == 200
    etag = f'"{hashlib.sha256(first.content).hexdigest()}"'
    assert first.headers["etag"] == etag
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert int(first.headers["content-length"]) == len(first.content)
    assert first.headers["content-type"] == "application/zip"
    path = tmp_path / "record.zip"
    path.write_bytes(first.content)
    assert verify_record(path, workers=1).ok

    # The stored record is byte for byte what a fresh build writes.
    key = (await client.get("/api/ballots/board/key")).json()["public_key"]
    fresh = tmp_path / "fresh.zip"
    view = await service.published(database, election_id=election.id)
    await write_published_record(
        database, view=view, board_public_key=bytes.fromhex(key), path=fresh
    )
    assert fresh.read_bytes() == first.content

    second = await client.get(f"{base}/record")
    assert second.content == first.content and second.headers["etag"] == etag
    cached = await client.get(f"{base}/record", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    assert cached.headers["etag"] == etag
    stale = await client.get(f"{base}/record", headers={"If-None-Match": '"0000"'})
    assert stale.status_code == 200 and stale.content == first.content
    assert await _stored(database) == (1, 1)


async def test_concurrent_first_downloads_store_the_record_exactly_once(
    client: httpx.AsyncClient,
    flows: Any,
    tokens: Callable[..., dict[str, str]],
    election_factory: Callable[..., Any],
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    election = await election_factory()
    base = await _published(flows, client, election, tokens("owner"))
    before = (await client.get(f"{base}/record")).content
    # As if the build at publication had not happened; and small chunks, so it takes several.
    async with database.session() as session:
        await session.execute(delete(ElectionRecordChunk))
        await session.execute(delete(ElectionRecord))
    monkeypatch.setattr(record_store, "CHUNK_BYTES", 4096)

    downloads = await asyncio.gather(*(client.get(f"{base}/record") for _ in range(4)))
    assert {d.status_code for d in downloads} == {200}
    assert {d.content for d in downloads} == {before}
    assert len({d.headers["etag"] for d in downloads}) == 1
    chunks = -(-len(before) // 4096)
    assert chunks > 1
    assert await _stored(database) == (1, chunks)
