"""Loading an election for a caller: scoped to the caller's organisation, locked for change.

Every change to what defines an election goes through :func:`election_for_change`, which
locks the election row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
already serialises writers) and requires the draft state. Freezing updates the same row, so
a change and a freeze are serialised by the database: a change either commits before the
freeze sees the election, or sees it frozen and is refused.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from election_service.errors import NotEditable, NotFound
from election_service.models import Election

SERVICE = "election"


async def election_for_read(
    session: AsyncSession, *, organisation_id: str, election_id: str
) -> Election:
    election = await session.scalar(
        select(Election).where(
            Election.id == election_id, Election.organisation_id == organisation_id
        )
    )
    if election is None:
        raise NotFound("No such election.")
    return election


async def election_for_change(
    session: AsyncSession, *, organisation_id: str, election_id: str
) -> Election:
    election = await session.scalar(
        select(Election)
        .where(Election.id == election_id, Election.organisation_id == organisation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if election is None:
        raise NotFound("No such election.")
    if election.state != "draft":
        raise NotEditable(election.state)
    return election


def admin_actor(subject: str) -> str:
    return f"admin:{subject}"


def election_target(election_id: str) -> str:
    return f"election:{election_id}"
