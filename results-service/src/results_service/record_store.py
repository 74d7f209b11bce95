"""The election record of a published election, built once and kept in the database.

After publication nothing in the record can change (the board is sealed, the shares and the
result are fixed), so it is built once — right after publication, or by the first download if
that build has not finished — and every download is served from the stored bytes: the very
archive the verifier checks, under a strong ETag (its SHA-256).

The bytes are stored in chunks (``election_record_chunks``), written in the same transaction
as the header row (``election_records``), so a reader never sees half a record, and served a
chunk at a time, so a million-ballot record is never held whole in memory. Builds that race
(the publication's and a first download's) may both run, but only one is stored: the header's
primary key lets exactly one insert commit; the loser drops its copy and serves the winner's.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from results_service.models import ElectionRecord, ElectionRecordChunk
from results_service.record_export import write_published_record
from results_service.service import Published
from securevote.db import Database
from securevote.logging import get_logger

log = get_logger(__name__)
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class StoredRecord:
    election_id: str
    sha256: str
    size: int
    chunks: int

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'


async def stored_record(database: Database, election_id: str) -> StoredRecord | None:
    async with database.session() as session:
        row = await session.get(ElectionRecord, election_id)
        if row is None:
            return None
        return StoredRecord(row.election_id, row.sha256, row.size, row.chunks)


def _digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        while piece := source.read(CHUNK_BYTES):
            digest.update(piece)
            size += len(piece)
    return digest.hexdigest(), size


async def _store(database: Database, *, election_id: str, path: Path) -> None:
    """Insert the archive at ``path`` as the election's record; IntegrityError if another
    build stored it first (on PostgreSQL the header insert waits for that build's commit)."""
    sha256, size = await asyncio.to_thread(_digest, path)
    chunks = -(-size // CHUNK_BYTES)
    async with database.session() as session:
        session.add(
            ElectionRecord(
                election_id=election_id,
                sha256=sha256,
                size=size,
                chunks=chunks,
                created_at=datetime.now(UTC),
            )
        )
        await session.flush()
        source: BinaryIO
        with path.open("rb") as source:
            for seq in range(chunks):
                piece = await asyncio.to_thread(source.read, CHUNK_BYTES)
                await session.execute(
                    insert(ElectionRecordChunk).values(election_id=election_id, seq=seq, data=piece)
                )


async def record_for(
    database: Database, *, view: Published, board_public_key: Callable[[], Awaitable[bytes]]
) -> StoredRecord:
    """The stored record of a published election, built and stored first if need be
    (``board_public_key`` is only asked for then)."""
    election_id = view.election.id
    found = await stored_record(database, election_id)
    if found is not None:
        return found
    key = await board_public_key()
    with tempfile.TemporaryDirectory(prefix="securevote-record-") as folder:
        path = Path(folder) / "record.zip"
        await write_published_record(database, view=view, board_public_key=key, path=path)
        try:
            await _store(database, election_id=election_id, path=path)
            log.info("record_stored", election_id=election_id)
        except IntegrityError:
            pass  # another build stored it first: serve that one
    found = await stored_record(database, election_id)
    if found is None:
        raise RuntimeError("the election record was not stored")
    return found


async def record_bytes(database: Database, record: StoredRecord) -> AsyncIterator[bytes]:
    """The stored archive, a chunk at a time (one short read each)."""
    for seq in range(record.chunks):
        async with database.session() as session:
            piece = await session.scalar(
                select(ElectionRecordChunk.data).where(
                    ElectionRecordChunk.election_id == record.election_id,
                    ElectionRecordChunk.seq == seq,
                )
            )
        if piece is None:
            raise RuntimeError("a chunk of the stored election record is missing")
        yield bytes(piece)
