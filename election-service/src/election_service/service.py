"""Elections: create, read, change and delete while in draft.

Keyword-only functions taking a session inside the caller's transaction; each change is
audited in that same transaction. Questions (``questions``), the lifecycle (``lifecycle``),
the voter roll (``roll``) and the scheduler (``scheduler``) live in their own modules; the
question functions and the transitions the results service drives are re-exported here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from election_service import ceremony
from election_service.access import (
    SERVICE,
    election_for_change,
    election_target,
    readable_by,
)
from election_service.errors import InvalidInput, NotFound
from election_service.lifecycle import mark_published, mark_tallied
from election_service.models import Election, Question, Voter, new_id
from election_service.questions import (
    add_question,
    delete_question,
    reorder_questions,
    replace_question,
)
from election_service.schemas import ElectionCreate, ElectionUpdate
from election_service.server_trustee import server_trustee_key_share
from securevote import audit
from securevote.auth import Principal

__all__ = [
    "add_question",
    "create_election",
    "delete_election",
    "delete_question",
    "election_detail",
    "list_elections",
    "mark_published",
    "mark_tallied",
    "reorder_questions",
    "replace_question",
    "server_trustee_key_share",
    "update_election",
    "voter_count",
]


async def create_election(
    session: AsyncSession, *, organisation_id: str, actor: str, data: ElectionCreate, now: datetime
) -> str:
    election = Election(
        id=new_id(),
        organisation_id=organisation_id,
        title=data.title,
        description=data.description,
        time_zone=data.time_zone,
        opens_at=data.opens_at,
        closes_at=data.closes_at,
        allow_revoting=data.settings.allow_revoting,
        second_factor=data.settings.second_factor,
        state="draft",
        trustee_count=data.trustee_count,
        threshold=data.threshold,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(election)
    await session.flush()
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action="election.create",
        target=election_target(election.id),
    )
    return election.id


async def list_elections(
    session: AsyncSession,
    *,
    principal: Principal,
    state: str | None,
    page: int,
    per_page: int,
) -> tuple[list[Election], int]:
    """A page of the elections ``principal`` may read (``access.readable_by``), newest
    first, and how many there are."""
    query = select(Election).where(readable_by(principal))
    if state is not None:
        query = query.where(Election.state == state)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(Election.created_at.desc(), Election.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(rows), int(total or 0)


async def election_detail(
    session: AsyncSession, *, organisation_id: str, election_id: str
) -> Election:
    """The election with its questions and options loaded (fresh from the database)."""
    election = await session.scalar(
        select(Election)
        .where(Election.id == election_id, Election.organisation_id == organisation_id)
        .options(selectinload(Election.questions).selectinload(Question.options))
        .execution_options(populate_existing=True)
    )
    if election is None:
        raise NotFound("No such election.")
    return election


async def voter_count(session: AsyncSession, *, election_id: str) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Voter).where(Voter.election_id == election_id)
    )
    return int(count or 0)


async def update_election(
    session: AsyncSession,
    *,
    organisation_id: str,
    election_id: str,
    actor: str,
    data: ElectionUpdate,
    now: datetime,
) -> None:
    election = await election_for_change(
        session, organisation_id=organisation_id, election_id=election_id
    )
    changes = data.model_dump(exclude_unset=True, exclude={"settings"})
    if data.settings is not None:
        changes["allow_revoting"] = data.settings.allow_revoting
        changes["second_factor"] = data.settings.second_factor
    opens_at = changes.get("opens_at", election.opens_at)
    closes_at = changes.get("closes_at", election.closes_at)
    if closes_at <= opens_at:
        raise InvalidInput(
            "closes_at must be after opens_at.",
            errors=[{"location": ["body", "closes_at"], "message": "must be after opens_at"}],
        )
    changed = sorted(name for name, value in changes.items() if getattr(election, name) != value)
    if not changed:
        return
    for name in changed:
        setattr(election, name, changes[name])
    election.updated_at = now
    details: dict[str, object] = {"fields": changed}
    if {"trustee_count", "threshold"} & set(changed):
        # The named trustees and their ceremony were for the old numbers.
        details["trustees_removed"] = await ceremony.drop_trustees(session, election, now=now)
    await session.flush()
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action="election.update",
        target=election_target(election_id),
        details=details,
    )


async def delete_election(
    session: AsyncSession, *, organisation_id: str, election_id: str, actor: str
) -> None:
    """Delete a draft election with its questions and roll (the database cascades)."""
    await election_for_change(session, organisation_id=organisation_id, election_id=election_id)
    removed_voters = await voter_count(session, election_id=election_id)
    await session.execute(delete(Election).where(Election.id == election_id))
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action="election.delete",
        target=election_target(election_id),
        details={"voters_removed": removed_voters},
    )
