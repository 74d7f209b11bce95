"""Loading an election for a caller: who may read which election, and locking for change.

Who reads an election is the rule every service shares (``securevote.election_access``; the
results service applies it too): the owners and admins of its organisation; an account whose
organisation role is trustee, if it is a named ceremony trustee of that election; an account
whose organisation role is observer, if it is a named observer of that election. To anyone
else the election does not exist (404, not 403: its existence is not revealed), and the
listing leaves it out. :func:`readable_by` binds the rule to the ``Election`` model.

Every change to what defines an election goes through :func:`election_for_change`, which
locks the election row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
already serialises writers) and requires the draft state. Freezing updates the same row, so
a change and a freeze are serialised by the database: a change either commits before the
freeze sees the election, or sees it frozen and is refused.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from election_service.errors import NotEditable, NotFound
from election_service.models import Election
from securevote import election_access
from securevote.auth import Principal
from securevote.election_access import MANAGER_ROLES as MANAGER_ROLES  # only they change one

SERVICE = "election"


def readable_by(principal: Principal) -> ColumnElement[bool]:
    """The condition on ``Election`` for the elections ``principal`` may read (the shared
    rule, :func:`securevote.election_access.readable_by`)."""
    return election_access.readable_by(
        principal, election_id=Election.id, organisation_id=Election.organisation_id
    )


async def election_for_reader(
    session: AsyncSession, *, principal: Principal, election_id: str
) -> Election:
    """The election if ``principal`` may read it (:func:`readable_by`), else 404."""
    election = await session.scalar(
        select(Election).where(Election.id == election_id, readable_by(principal))
    )
    if election is None:
        raise NotFound("No such election.")
    return election


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


async def election_locked(
    session: AsyncSession, *, organisation_id: str, election_id: str
) -> Election:
    """The organisation's election, its row locked, in any state (for what does not define
    it, such as its observers)."""
    election = await session.scalar(
        select(Election)
        .where(Election.id == election_id, Election.organisation_id == organisation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if election is None:
        raise NotFound("No such election.")
    return election


async def election_for_change(
    session: AsyncSession, *, organisation_id: str, election_id: str
) -> Election:
    election = await election_locked(
        session, organisation_id=organisation_id, election_id=election_id
    )
    if election.state != "draft":
        raise NotEditable(election.state)
    return election


def admin_actor(subject: str) -> str:
    return f"admin:{subject}"


def election_target(election_id: str) -> str:
    return f"election:{election_id}"
