"""Questions and their options (draft only). A question is replaced whole, with its
options in the order given."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy.ext.asyncio import AsyncSession

from election_service import service
from election_service.api.deps import ElectionEditor, ElectionId, SessionDep, actor, org
from election_service.api.routes.elections import detail
from election_service.schemas import ElectionOut, QuestionIn, QuestionOrder, QuestionOut

router = APIRouter(prefix="/api/elections/{election_id:uuid}", tags=["questions"])
QuestionId = Annotated[uuid.UUID, Path(description="the question's id")]


async def _question(
    session: AsyncSession, organisation_id: str, election_id: str, question_id: str
) -> QuestionOut:
    election = await detail(session, organisation_id=organisation_id, election_id=election_id)
    return next(q for q in election.questions if q.id == question_id)


@router.post("/questions", status_code=201)
async def add_question(
    election_id: ElectionId, body: QuestionIn, session: SessionDep, editor: ElectionEditor
) -> QuestionOut:
    question_id = await service.add_question(
        session,
        organisation_id=org(editor),
        election_id=str(election_id),
        actor=actor(editor),
        data=body,
        now=datetime.now(UTC),
    )
    return await _question(session, org(editor), str(election_id), question_id)


@router.put("/questions/{question_id:uuid}")
async def replace_question(
    election_id: ElectionId,
    question_id: QuestionId,
    body: QuestionIn,
    session: SessionDep,
    editor: ElectionEditor,
) -> QuestionOut:
    await service.replace_question(
        session,
        organisation_id=org(editor),
        election_id=str(election_id),
        question_id=str(question_id),
        actor=actor(editor),
        data=body,
        now=datetime.now(UTC),
    )
    return await _question(session, org(editor), str(election_id), str(question_id))


@router.delete("/questions/{question_id:uuid}", status_code=204)
async def delete_question(
    election_id: ElectionId, question_id: QuestionId, session: SessionDep, editor: ElectionEditor
) -> None:
    await service.delete_question(
        session,
        organisation_id=org(editor),
        election_id=str(election_id),
        question_id=str(question_id),
        actor=actor(editor),
        now=datetime.now(UTC),
    )


@router.put("/question-order")
async def reorder_questions(
    election_id: ElectionId, body: QuestionOrder, session: SessionDep, editor: ElectionEditor
) -> ElectionOut:
    await service.reorder_questions(
        session,
        organisation_id=org(editor),
        election_id=str(election_id),
        question_ids=[str(question_id) for question_id in body.question_ids],
        actor=actor(editor),
        now=datetime.now(UTC),
    )
    return await detail(session, organisation_id=org(editor), election_id=str(election_id))
