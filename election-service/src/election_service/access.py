"""Loading an election for a caller: who may read which election, and locking for change.

Who reads an election (the one place the rule lives: :func:`readable_by`): the owners and
admins of its organisation; an account whose organisation role is trustee, if it is a named
ceremony trustee of that election; an account whose organisation role is observer, if it is
a named observer of that election. To anyone else the election does not exist (404, not
403: its existence is not revealed), and the listing leaves it out.

Every change to what defines an election goes through :func:`election_for_change`, which
locks the election row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
already serialises writers) and requires the draft state. Freezing updates the same row, so
a change and a freeze are serialised by the database: a change either commits before the
freeze sees the election, or sees it frozen and is refused.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from election_service.errors import NotEditable, NotFound
from election_service.models import CeremonyTrustee, Election, ElectionObserver
from securevote.auth import Principal, Role

SERVICE = "election"
# Roles that see every election of their organisation (and the only ones that change them).
MANAGER_ROLES = (Role.OWNER, Role.ADMIN)


def readable_by(principal: Principal) -> ColumnElement[bool]:
    """The condition on ``Election`` for the elections ``principal`` may read."""
    if principal.organisation_id is None:
        return false()
    in_organisation = Election.organisation_id == principal.organisation_id
    if principal.has_role(*MANAGER_ROLES):
        return in_organisation
    named: list[ColumnElement[bool]] = []
    if principal.has_role(Role.TRUSTEE):
        named.append(
            Election.id.in_(
                select(CeremonyTrustee.election_id).where(
                    CeremonyTrustee.account_id == principal.subject
                )
            )
        )
    if principal.has_role(Role.OBSERVER):
        named.append(
            Election.id.in_(
                select(ElectionObserver.election_id).where(
                    ElectionObserver.account_id == principal.subject
                )
            )
        )
    if not named:
        return false()
    return and_(in_organisation, or_(*named))


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
