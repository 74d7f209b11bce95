"""Elections: create, list, read, change and delete (draft only), readiness."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from election_service import service
from election_service.api.deps import (
    ElectionEditor,
    ElectionId,
    ElectionReader,
    OrganisationMember,
    SessionDep,
    actor,
    org,
)
from election_service.api.views import election_out, election_summary
from election_service.lifecycle import NEXT_TRANSITION, missing_for_next
from election_service.schemas import (
    ElectionCreate,
    ElectionOut,
    ElectionPage,
    ElectionUpdate,
    Readiness,
    State,
)

router = APIRouter(prefix="/api/elections", tags=["elections"])


async def detail(session: AsyncSession, *, organisation_id: str, election_id: str) -> ElectionOut:
    election = await service.election_detail(
        session, organisation_id=organisation_id, election_id=election_id
    )
    count = await service.voter_count(session, election_id=election_id)
    return election_out(election, voter_count=count)


@router.post("", status_code=201)
async def create_election(
    body: ElectionCreate, session: SessionDep, editor: ElectionEditor, response: Response
) -> ElectionOut:
    election_id = await service.create_election(
        session,
        organisation_id=org(editor),
        actor=actor(editor),
        data=body,
        now=datetime.now(UTC),
    )
    response.headers["Location"] = f"/api/elections/{election_id}"
    return await detail(session, organisation_id=org(editor), election_id=election_id)


@router.get("")
async def list_elections(
    session: SessionDep,
    member: OrganisationMember,
    state: State | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ElectionPage:
    items, total = await service.list_elections(
        session, principal=member, state=state, page=page, per_page=per_page
    )
    return ElectionPage(
        total=total,
        page=page,
        per_page=per_page,
        items=[election_summary(item) for item in items],
    )


@router.get("/{election_id:uuid}")
async def get_election(
    election_id: ElectionId, session: SessionDep, reader: ElectionReader
) -> ElectionOut:
    return await detail(session, organisation_id=org(reader), election_id=str(election_id))


@router.patch("/{election_id:uuid}")
async def update_election(
    election_id: ElectionId, body: ElectionUpdate, session: SessionDep, editor: ElectionEditor
) -> ElectionOut:
    await service.update_election(
        session,
        organisation_id=org(editor),
        election_id=str(election_id),
        actor=actor(editor),
        data=body,
        now=datetime.now(UTC),
    )
    return await detail(session, organisation_id=org(editor), election_id=str(election_id))


@router.delete("/{election_id:uuid}", status_code=204)
async def delete_election(
    election_id: ElectionId, session: SessionDep, editor: ElectionEditor
) -> None:
    await service.delete_election(
        session, organisation_id=org(editor), election_id=str(election_id), actor=actor(editor)
    )


@router.get("/{election_id:uuid}/readiness")
async def readiness(
    election_id: ElectionId, session: SessionDep, reader: ElectionReader
) -> Readiness:
    """What the next lifecycle step still needs (for a draft: the freeze checklist)."""
    election = await service.election_detail(
        session, organisation_id=org(reader), election_id=str(election_id)
    )
    missing = await missing_for_next(session, election, now=datetime.now(UTC))
    step = NEXT_TRANSITION.get(election.state)
    return Readiness(
        state=election.state,
        next=None if step is None else step.target,
        ready=step is not None and not missing,
        missing=missing,
    )
