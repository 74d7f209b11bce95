"""Lifecycle transitions an admin drives: freeze, open, close (and tally, publish, which the
results service asks for on the admin's behalf).

Each runs in its own transaction. A refused transition is audited as a failure in a second
transaction after the first has rolled back, so the attempt is on record too.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from election_service.access import SERVICE, election_target
from election_service.api.deps import DatabaseDep, ElectionEditor, ElectionId, actor, org
from election_service.api.routes.elections import detail
from election_service.errors import TransitionRefused
from election_service.lifecycle import transition
from election_service.schemas import ElectionOut
from securevote import audit
from securevote.audit import Outcome
from securevote.auth import Principal
from securevote.db import Database

router = APIRouter(prefix="/api/elections/{election_id:uuid}", tags=["lifecycle"])


async def _run(database: Database, name: str, election_id: str, editor: Principal) -> ElectionOut:
    now = datetime.now(UTC)
    try:
        async with database.session() as session:
            await transition(
                session,
                name=name,
                election_id=election_id,
                organisation_id=org(editor),
                actor=actor(editor),
                now=now,
                details={"manual": True},
            )
            return await detail(session, organisation_id=org(editor), election_id=election_id)
    except TransitionRefused as refused:
        async with database.session() as session:
            await audit.record(
                session,
                service=SERVICE,
                actor=actor(editor),
                action=f"election.{name}",
                target=election_target(election_id),
                outcome=Outcome.FAILURE,
                details={"state": refused.state, "missing": refused.missing},
            )
        raise


@router.post("/freeze")
async def freeze(
    election_id: ElectionId, database: DatabaseDep, editor: ElectionEditor
) -> ElectionOut:
    """draft → frozen: questions, roll and joint key are fixed from now on."""
    return await _run(database, "freeze", str(election_id), editor)


@router.post("/open")
async def open_election(
    election_id: ElectionId, database: DatabaseDep, editor: ElectionEditor
) -> ElectionOut:
    """frozen → open, now (the scheduler does it at the opening time)."""
    return await _run(database, "open", str(election_id), editor)


@router.post("/close")
async def close_election(
    election_id: ElectionId, database: DatabaseDep, editor: ElectionEditor
) -> ElectionOut:
    """open → closed, now (the scheduler does it at the closing time)."""
    return await _run(database, "close", str(election_id), editor)


@router.post("/tally")
async def tally_election(
    election_id: ElectionId, database: DatabaseDep, editor: ElectionEditor
) -> ElectionOut:
    """closed → tallied: the results service calls this (as the admin) once the encrypted
    tally is computed."""
    return await _run(database, "tally", str(election_id), editor)


@router.post("/publish")
async def publish_election(
    election_id: ElectionId, database: DatabaseDep, editor: ElectionEditor
) -> ElectionOut:
    """tallied → published: the results service calls this (as the admin) when it publishes
    the results."""
    return await _run(database, "publish", str(election_id), editor)
