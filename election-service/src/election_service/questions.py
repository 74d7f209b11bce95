"""Questions and their options, in draft elections: add, replace, delete, reorder.

Keyword-only functions in the caller's transaction; each change is audited there too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from election_service.access import SERVICE, election_for_change, election_target
from election_service.errors import InvalidInput, NotFound
from election_service.models import Option, Question, new_id
from election_service.schemas import MAX_QUESTIONS, QuestionIn
from securevote import audit


async def _question_ids(session: AsyncSession, election_id: str) -> list[str]:
    rows = await session.scalars(
        select(Question.id).where(Question.election_id == election_id).order_by(Question.position)
    )
    return list(rows)


async def _insert_options(session: AsyncSession, question_id: str, data: QuestionIn) -> None:
    if data.options:
        await session.execute(
            insert(Option),
            [
                {
                    "id": new_id(),
                    "question_id": question_id,
                    "position": index,
                    "title": option.title,
                    "description": option.description,
                }
                for index, option in enumerate(data.options)
            ],
        )


async def add_question(
    session: AsyncSession,
    *,
    organisation_id: str,
    election_id: str,
    actor: str,
    data: QuestionIn,
    now: datetime,
) -> str:
    """Append a question (with its options, in order) to a draft election."""
    election = await election_for_change(
        session, organisation_id=organisation_id, election_id=election_id
    )
    existing = await _question_ids(session, election_id)
    if len(existing) >= MAX_QUESTIONS:
        raise InvalidInput(f"An election has at most {MAX_QUESTIONS} questions.")
    low, high = data.bounds()
    question_id = new_id()
    await session.execute(
        insert(Question).values(
            id=question_id,
            election_id=election_id,
            position=len(existing),
            title=data.title,
            description=data.description,
            kind=data.kind,
            min_selections=low,
            max_selections=high,
        )
    )
    await _insert_options(session, question_id, data)
    election.updated_at = now
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action="question.create",
        target=election_target(election_id),
        details={"question_id": question_id, "options": len(data.options)},
    )
    return question_id


async def _question_in(session: AsyncSession, election_id: str, question_id: str) -> Question:
    question = await session.scalar(
        select(Question).where(Question.id == question_id, Question.election_id == election_id)
    )
    if question is None:
        raise NotFound("No such question.")
    return question


async def replace_question(
    session: AsyncSession,
    *,
    organisation_id: str,
    election_id: str,
    question_id: str,
    actor: str,
    data: QuestionIn,
    now: datetime,
) -> None:
    """Replace a question and all its options; it keeps its id and position."""
    election = await election_for_change(
        session, organisation_id=organisation_id, election_id=election_id
    )
    await _question_in(session, election_id, question_id)
    low, high = data.bounds()
    await session.execute(delete(Option).where(Option.question_id == question_id))
    await session.execute(
        update(Question)
        .where(Question.id == question_id)
        .values(
            title=data.title,
            description=data.description,
            kind=data.kind,
            min_selections=low,
            max_selections=high,
        )
    )
    await _insert_options(session, question_id, data)
    election.updated_at = now
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action="question.update",
        target=election_target(election_id),
        details={"question_id": question_id, "options": len(data.options)},
    )


async def _renumber(session: AsyncSession, election_id: str, ordered: Sequence[str]) -> None:
    """Give the questions positions 0..n-1 in ``ordered`` order. Two passes, because a
    unique (election, position) constraint is checked row by row on PostgreSQL."""
    await session.execute(
        update(Question)
        .where(Question.election_id == election_id)
        .values(position=-Question.position - 1)
    )
    for position, question_id in enumerate(ordered):
        await session.execute(
            update(Question).where(Question.id == question_id).values(position=position)
        )


async def delete_question(
    session: AsyncSession,
    *,
    organisation_id: str,
    election_id: str,
    question_id: str,
    actor: str,
    now: datetime,
) -> None:
    election = await election_for_change(
        session, organisation_id=organisation_id, election_id=election_id
    )
    await _question_in(session, election_id, question_id)
    await session.execute(delete(Question).where(Question.id == question_id))
    await _renumber(session, election_id, await _question_ids(session, election_id))
    election.updated_at = now
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action="question.delete",
        target=election_target(election_id),
        details={"question_id": question_id},
    )


async def reorder_questions(
    session: AsyncSession,
    *,
    organisation_id: str,
    election_id: str,
    question_ids: Sequence[str],
    actor: str,
    now: datetime,
) -> None:
    """Put the questions in the given order; the list must name each question once."""
    election = await election_for_change(
        session, organisation_id=organisation_id, election_id=election_id
    )
    existing = await _question_ids(session, election_id)
    if sorted(existing) != sorted(question_ids) or len(set(question_ids)) != len(question_ids):
        raise InvalidInput("The order must name every question of the election exactly once.")
    await _renumber(session, election_id, question_ids)
    election.updated_at = now
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action="question.reorder",
        target=election_target(election_id),
        details={"question_ids": list(question_ids)},
    )
