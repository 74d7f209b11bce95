"""The voting service's read of the ``elections`` table, which the election service owns:
the voting service only reads it, inside its own transactions (DESIGN §2 ownership rule)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Boolean, Column, MetaData, String, Table, and_, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from voting_service.models import BoardState

# A separate MetaData keeps it out of the voting service's models.
ELECTIONS = Table(
    "elections",
    MetaData(),
    Column("id", String(36), primary_key=True),
    Column("state", String(16)),
    Column("allow_revoting", Boolean),
    Column("context_document", JSON),
    Column("election_hash", String(64)),
)


@dataclass(frozen=True)
class ElectionRow:
    id: str
    state: str
    allow_revoting: bool
    context_document: Mapping[str, Any] | None
    election_hash: str | None


async def read_election(
    session: AsyncSession, election_id: str, *, lock: bool
) -> ElectionRow | None:
    """The election's row; ``lock`` takes a share lock on it (PostgreSQL; SQLite's write lock
    already serialises) so that the election cannot change state until this transaction ends.
    The lock goes through ``ballot_box_lock_election`` (migration 0011): a row lock needs an
    UPDATE privilege the voting role does not have on ``elections``."""
    if lock and session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT ballot_box_lock_election(:id)"), {"id": election_id})
    query = select(ELECTIONS).where(ELECTIONS.c.id == election_id)
    row = (await session.execute(query)).mappings().one_or_none()
    if row is None:
        return None
    return ElectionRow(
        id=row["id"],
        state=row["state"],
        allow_revoting=bool(row["allow_revoting"]),
        context_document=row["context_document"],
        election_hash=row["election_hash"],
    )


async def elections_with_boards(session: AsyncSession) -> list[tuple[str, str, bytes]]:
    """(id, state, election hash) of the elections the board-heads job has work for: open
    ones with a board, and closed ones whose board is not sealed yet."""
    query = (
        select(ELECTIONS.c.id, ELECTIONS.c.state, ELECTIONS.c.election_hash)
        .select_from(ELECTIONS.outerjoin(BoardState, BoardState.election_id == ELECTIONS.c.id))
        .where(ELECTIONS.c.election_hash.is_not(None))
        .where(
            or_(
                and_(ELECTIONS.c.state == "open", BoardState.election_id.is_not(None)),
                and_(
                    ELECTIONS.c.state.in_(("closed", "tallied", "published")),
                    or_(BoardState.sealed.is_(None), BoardState.sealed.is_(False)),
                ),
            )
        )
    )
    rows = (await session.execute(query)).all()
    return [(row[0], row[1], bytes.fromhex(row[2])) for row in rows]
