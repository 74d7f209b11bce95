"""The election lifecycle: draft → frozen → open → closed → tallied → published.

Each transition happens exactly once, enforced by the database: the election row is locked,
the guards are checked, and the state changes with ``UPDATE … WHERE state = <expected>``
whose row count must be 1. A second, concurrent attempt finds the new state and is refused.
A transition that is not ready is refused with the list of what is missing.

Freezing needs a complete key ceremony for the current questions, and stores the election
context (manifest, trustees with their commitments, threshold) and the election hash in the
same UPDATE that changes the state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from election_service import ceremony
from election_service.access import SERVICE, election_target
from election_service.errors import NotFound, TransitionRefused
from election_service.models import Election, Option, Question, Voter
from securevote import audit

SCHEDULER_ACTOR = "system:scheduler"


@dataclass(frozen=True)
class Transition:
    name: str
    source: str
    target: str
    timestamp_column: str


TRANSITIONS = {
    t.name: t
    for t in (
        Transition("freeze", "draft", "frozen", "frozen_at"),
        Transition("open", "frozen", "open", "opened_at"),
        Transition("close", "open", "closed", "closed_at"),
        Transition("tally", "closed", "tallied", "tallied_at"),
        Transition("publish", "tallied", "published", "published_at"),
    )
}
NEXT_TRANSITION = {t.source: t for t in TRANSITIONS.values()}


async def freeze_missing(session: AsyncSession, election: Election, *, now: datetime) -> list[str]:
    """What must still be done before the election can be frozen (empty when ready)."""
    missing: list[str] = []
    questions = (
        await session.execute(
            select(
                Question.position,
                Question.min_selections,
                Question.max_selections,
                func.count(Option.id),
            )
            .outerjoin(Option, Option.question_id == Question.id)
            .where(Question.election_id == election.id)
            .group_by(Question.id, Question.position, Question.min_selections)
            .group_by(Question.max_selections)
            .order_by(Question.position)
        )
    ).all()
    if not questions:
        missing.append("no questions")
    for position, low, high, options in questions:
        number = position + 1
        if options < 2:
            missing.append(f"question {number} has fewer than 2 options")
        if options < low:
            missing.append(f"question {number} has fewer options than its minimum ({low})")
        if high > options:
            missing.append(f"question {number} allows more selections ({high}) than options")
    voters, without_secret = (
        await session.execute(
            select(
                func.count(Voter.id),
                func.count(Voter.id).filter(Voter.secret_digest.is_(None)),
            ).where(Voter.election_id == election.id)
        )
    ).one()
    if voters == 0:
        missing.append("voter roll is empty")
    if election.second_factor == "date_of_birth" and without_secret:
        missing.append(
            f"{without_secret} voters have no date of birth (the second factor needs one)"
        )
    if election.trustee_count is None or election.threshold is None:
        missing.append("trustees not chosen (trustee_count and threshold)")
    missing += await ceremony.freeze_missing(session, election)
    if election.joint_public_key is None:
        missing.append("joint public key not set")
    if election.closes_at <= now:
        missing.append("closing time has passed")
    return missing


async def _open_missing(session: AsyncSession, election: Election, *, now: datetime) -> list[str]:
    return ["closing time has passed"] if election.closes_at <= now else []


async def _nothing_missing(
    session: AsyncSession, election: Election, *, now: datetime
) -> list[str]:
    return []


Guard = Callable[..., Awaitable[list[str]]]
GUARDS: dict[str, Guard] = {
    "freeze": freeze_missing,
    "open": _open_missing,
    "close": _nothing_missing,
    "tally": _nothing_missing,
    "publish": _nothing_missing,
}


async def missing_for_next(
    session: AsyncSession, election: Election, *, now: datetime
) -> list[str]:
    """What the next transition from the current state still needs."""
    step = NEXT_TRANSITION.get(election.state)
    return [] if step is None else await GUARDS[step.name](session, election, now=now)


async def transition(
    session: AsyncSession,
    *,
    name: str,
    election_id: str,
    organisation_id: str | None,
    actor: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> Election:
    """Move the election along ``name``; raises NotFound or TransitionRefused.

    ``organisation_id`` scopes the lookup to the caller's organisation (None only for the
    system: the scheduler and the results service acting on an election it was given).
    """
    step = TRANSITIONS[name]
    query = select(Election).where(Election.id == election_id)
    if organisation_id is not None:
        query = query.where(Election.organisation_id == organisation_id)
    election = await session.scalar(
        query.with_for_update().execution_options(populate_existing=True)
    )
    if election is None:
        raise NotFound("No such election.")
    if election.state != step.source:
        raise TransitionRefused(
            f"The election is {election.state}; '{name}' needs it {step.source}.",
            state=election.state,
        )
    missing = await GUARDS[name](session, election, now=now)
    if missing:
        raise TransitionRefused(
            f"The election cannot {name} yet.", state=election.state, missing=missing
        )
    values: dict[str, Any] = {"state": step.target, step.timestamp_column: now, "updated_at": now}
    if name == "freeze":
        # Fixed in the same UPDATE that leaves the draft state (the triggers allow it then).
        document, election_hash = await ceremony.frozen_context(session, election)
        values.update(context_document=document, election_hash=election_hash)
        details = {**(details or {}), "election_hash": election_hash}
    result = await session.execute(
        update(Election)
        .where(Election.id == election_id, Election.state == step.source)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise TransitionRefused("The election changed state meanwhile.", state=election.state)
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action=f"election.{name}",
        target=election_target(election_id),
        details={"from": step.source, "to": step.target, **(details or {})},
    )
    await session.refresh(election)
    return election


async def mark_tallied(
    session: AsyncSession, *, election_id: str, actor: str, now: datetime
) -> Election:
    """closed → tallied; for the results service once the encrypted tally is computed."""
    return await transition(
        session, name="tally", election_id=election_id, organisation_id=None, actor=actor, now=now
    )


async def mark_published(
    session: AsyncSession, *, election_id: str, actor: str, now: datetime
) -> Election:
    """tallied → published; for the results service once the results are published."""
    return await transition(
        session,
        name="publish",
        election_id=election_id,
        organisation_id=None,
        actor=actor,
        now=now,
    )
