"""Read-only access to the tables other services own (election, voting), inside our
transactions. Only SQL Core (text, lightweight tables) is used here, so this service imports
no other service.

What is read: the election row (state, organisation, frozen context, election hash) — for a
caller, through the access rule every service shares — the size of its roll, its named
trustees (which account is trustee j), and the voting service's board: ballots in board
order, which ballot of a credential counts, the board state and the signed heads, and the
spoiled ballots.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import column, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from securevote.auth import Principal
from securevote.ballots import ElectionContext
from securevote.crypto.merkle import TreeHead
from securevote.election_access import readable_by
from securevote.record import context_from_documents


@dataclass(frozen=True)
class ElectionRow:
    id: str
    organisation_id: str
    title: str
    state: str
    context_document: dict[str, Any] | None
    election_hash: str | None
    server_trustee: bool

    def context(self) -> ElectionContext:
        if self.context_document is None:
            raise ValueError("the election has no frozen context")
        return context_from_documents(**self.context_document)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


_elections = table(
    "elections",
    column("id"),
    column("organisation_id"),
    column("title"),
    column("state"),
    column("context_document"),
    column("election_hash"),
    column("server_trustee"),
)


async def read_election(
    session: AsyncSession, election_id: str, *, reader: Principal | None = None
) -> ElectionRow | None:
    """The election; with ``reader``, only if the shared access rule lets that principal read
    it (``securevote.election_access``: None is the same answer as "no such election")."""
    query = select(_elections).where(_elections.c.id == election_id)
    if reader is not None:
        query = query.where(
            readable_by(
                reader, election_id=_elections.c.id, organisation_id=_elections.c.organisation_id
            )
        )
    row = (await session.execute(query)).one_or_none()
    if row is None:
        return None
    return ElectionRow(
        id=row.id,
        organisation_id=row.organisation_id,
        title=row.title,
        state=row.state,
        context_document=_json(row.context_document),
        election_hash=row.election_hash,
        server_trustee=bool(row.server_trustee),
    )


async def roll_size(session: AsyncSession, election_id: str) -> int:
    count = await session.scalar(
        text("SELECT count(*) FROM voters WHERE election_id = :id"), {"id": election_id}
    )
    return int(count or 0)


async def trustee_account(session: AsyncSession, election_id: str, index: int) -> str | None:
    """The account id of trustee ``index`` (None: no such trustee, or the server trustee)."""
    value = await session.scalar(
        text(
            "SELECT account_id FROM ceremony_trustees "
            "WHERE election_id = :id AND trustee_index = :index"
        ),
        {"id": election_id, "index": index},
    )
    return None if value is None else str(value)


@dataclass(frozen=True)
class BoardStatus:
    size: int
    sealed: bool
    final_head: TreeHead | None


def _head(row: Any, election_hash: bytes) -> TreeHead:
    return TreeHead(
        election_hash=election_hash,
        size=int(row.size),
        root=bytes(row.root),
        timestamp=int(row.timestamp),
        signature=bytes(row.signature),
    )


async def board_status(
    session: AsyncSession, election_id: str, election_hash: bytes
) -> BoardStatus:
    state = (
        await session.execute(
            text("SELECT size, sealed FROM board_state WHERE election_id = :id"),
            {"id": election_id},
        )
    ).one_or_none()
    final = (
        await session.execute(
            text(
                "SELECT size, root, timestamp, signature FROM board_heads "
                "WHERE election_id = :id AND final = :final ORDER BY id DESC"
            ),
            {"id": election_id, "final": True},
        )
    ).first()
    return BoardStatus(
        size=int(state.size) if state else 0,
        sealed=bool(state.sealed) if state else False,
        final_head=None if final is None else _head(final, election_hash),
    )


async def ballot_count(session: AsyncSession, election_id: str) -> int:
    value = await session.scalar(
        text("SELECT count(*) FROM ballots WHERE election_id = :id"), {"id": election_id}
    )
    return int(value or 0)


async def leaf_hashes(session: AsyncSession, election_id: str) -> AsyncIterator[bytes]:
    result = await session.stream(
        text("SELECT leaf_hash FROM ballots WHERE election_id = :id ORDER BY board_index"),
        {"id": election_id},
    )
    async for row in result:
        yield bytes(row.leaf_hash)


@dataclass(frozen=True)
class CountedCheck:
    """The board's own answer to "which ballots count" (the last of each credential, §8)
    against the voting service's ``counted_ballots`` markers."""

    credentials_on_board: int
    counted_markers: int
    markers_on_last_ballot: int

    @property
    def consistent(self) -> bool:
        return self.credentials_on_board == self.counted_markers == self.markers_on_last_ballot


async def counted_check(session: AsyncSession, election_id: str) -> CountedCheck:
    params = {"id": election_id}
    credentials = await session.scalar(
        text("SELECT count(DISTINCT credential) FROM ballots WHERE election_id = :id"), params
    )
    markers = await session.scalar(
        text("SELECT count(*) FROM counted_ballots WHERE election_id = :id"), params
    )
    on_last = await session.scalar(
        text(
            "SELECT count(*) FROM counted_ballots AS c JOIN ("
            "  SELECT credential, max(board_index) AS last FROM ballots"
            "  WHERE election_id = :id GROUP BY credential"
            ") AS b ON b.credential = c.credential AND b.last = c.board_index "
            "WHERE c.election_id = :id"
        ),
        params,
    )
    return CountedCheck(int(credentials or 0), int(markers or 0), int(on_last or 0))


async def counted_batch(
    session: AsyncSession, election_id: str, *, after: int, limit: int
) -> list[tuple[int, str]]:
    """The next ``limit`` counted ballots after board index ``after``: (index, JCS text)."""
    rows = await session.execute(
        text(
            "SELECT b.board_index, b.ballot FROM ballots AS b "
            "JOIN counted_ballots AS c "
            "  ON c.election_id = b.election_id AND c.board_index = b.board_index "
            "WHERE b.election_id = :id AND b.board_index > :after "
            "ORDER BY b.board_index LIMIT :limit"
        ),
        {"id": election_id, "after": after, "limit": limit},
    )
    return [(int(r.board_index), str(r.ballot)) for r in rows]


async def board_ballots(
    session: AsyncSession, election_id: str, *, batch: int = 5000
) -> AsyncIterator[str]:
    """Every ballot on the board in board order (JCS text), read in batches."""
    after = -1
    while True:
        rows = (
            await session.execute(
                text(
                    "SELECT board_index, ballot FROM ballots "
                    "WHERE election_id = :id AND board_index > :after "
                    "ORDER BY board_index LIMIT :limit"
                ),
                {"id": election_id, "after": after, "limit": batch},
            )
        ).all()
        for row in rows:
            yield str(row.ballot)
        if len(rows) < batch:
            return
        after = int(rows[-1].board_index)


async def board_heads(
    session: AsyncSession, election_id: str, election_hash: bytes
) -> list[TreeHead]:
    rows = await session.execute(
        text(
            "SELECT size, root, timestamp, signature FROM board_heads "
            "WHERE election_id = :id ORDER BY id"
        ),
        {"id": election_id},
    )
    return [_head(row, election_hash) for row in rows]


async def spoiled_ballots(session: AsyncSession, election_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        text(
            "SELECT ballot, seed, choices FROM spoiled_ballots WHERE election_id = :id ORDER BY id"
        ),
        {"id": election_id},
    )
    return [
        {
            "ballot": json.loads(row.ballot),
            "seed": bytes(row.seed).hex(),
            "choices": json.loads(row.choices),
        }
        for row in rows
    ]


async def spoiled_count(session: AsyncSession, election_id: str) -> int:
    value = await session.scalar(
        text("SELECT count(*) FROM spoiled_ballots WHERE election_id = :id"), {"id": election_id}
    )
    return int(value or 0)
