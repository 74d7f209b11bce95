"""The key ceremony: the organiser names the trustees; each trustee posts its steps.

Who: reading the progress — whoever may read the election (``access.readable_by``); naming
the trustees and restarting — owner, admin; a trustee step for trustee i — only the account
named as trustee i, with the trustee role (anyone else who may read the election: 403;
anyone who may not, of this organisation or another: 404).
A step refused as invalid (422) is audited as a failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Path
from sqlalchemy.ext.asyncio import AsyncSession

from election_service import ceremony
from election_service.access import SERVICE, election_target
from election_service.api.deps import (
    DatabaseDep,
    ElectionEditor,
    ElectionId,
    ElectionReader,
    OrganisationMember,
    SessionDep,
    SettingsDep,
    actor,
    org,
)
from election_service.errors import InvalidInput
from election_service.schemas import (
    MAX_TRUSTEES,
    AnswerIn,
    BoxKeyIn,
    CeremonyOut,
    DealingIn,
    SharesOut,
    TrusteesIn,
    VerificationIn,
)
from securevote import audit
from securevote.audit import Outcome
from securevote.auth import Principal
from securevote.db import Database

router = APIRouter(prefix="/api/elections/{election_id:uuid}", tags=["key ceremony"])
TrusteeIndex = Annotated[int, Path(ge=1, le=MAX_TRUSTEES, description="the trustee's number")]
T = TypeVar("T")


@router.get("/ceremony")
async def get_ceremony(
    election_id: ElectionId, session: SessionDep, reader: ElectionReader
) -> CeremonyOut:
    """Progress: who registered, dealt, verified; complaints; the parameters to deal with."""
    return await ceremony.view(session, organisation_id=org(reader), election_id=str(election_id))


@router.put("/trustees")
async def set_trustees(
    election_id: ElectionId,
    body: TrusteesIn,
    session: SessionDep,
    editor: ElectionEditor,
    settings: SettingsDep,
) -> CeremonyOut:
    """Name the trustees (in order) and the threshold, or the demo server trustee.
    Restarts the ceremony."""
    await ceremony.set_trustees(
        session,
        organisation_id=org(editor),
        election_id=str(election_id),
        actor=actor(editor),
        data=body,
        server_secret=settings.secret_key_bytes,
        now=datetime.now(UTC),
    )
    return await ceremony.view(session, organisation_id=org(editor), election_id=str(election_id))


@router.post("/ceremony/restart")
async def restart_ceremony(
    election_id: ElectionId, session: SessionDep, editor: ElectionEditor, settings: SettingsDep
) -> CeremonyOut:
    """Forget every step and start again with the same trustees."""
    await ceremony.restart(
        session,
        organisation_id=org(editor),
        election_id=str(election_id),
        actor=actor(editor),
        server_secret=settings.secret_key_bytes,
        now=datetime.now(UTC),
    )
    return await ceremony.view(session, organisation_id=org(editor), election_id=str(election_id))


async def _step(
    database: Database,
    principal: Principal,
    election_id: str,
    index: int,
    name: str,
    run: Callable[[AsyncSession], Awaitable[T]],
) -> T:
    """Run a trustee's step in one transaction; an invalid step is audited as a failure."""
    try:
        async with database.session() as session:
            return await run(session)
    except InvalidInput as refused:
        async with database.session() as session:
            await audit.record(
                session,
                service=SERVICE,
                actor=actor(principal),
                action=f"ceremony.{name}",
                target=election_target(election_id),
                outcome=Outcome.FAILURE,
                details={"trustee": index, "reason": str(refused)},
            )
        raise


@router.put("/ceremony/trustees/{index}/box-key")
async def register_box_key(
    election_id: ElectionId,
    index: TrusteeIndex,
    body: BoxKeyIn,
    database: DatabaseDep,
    member: OrganisationMember,
) -> CeremonyOut:
    """Step 1 (trustee ``index``): the X25519 public key its shares are sealed to."""
    eid = str(election_id)

    async def run(session: AsyncSession) -> CeremonyOut:
        await ceremony.register(
            session,
            principal=member,
            election_id=eid,
            index=index,
            box_public_key=bytes.fromhex(body.box_public_key),
            now=datetime.now(UTC),
        )
        return await ceremony.view(session, organisation_id=org(member), election_id=eid)

    return await _step(database, member, eid, index, "register", run)


@router.post("/ceremony/trustees/{index}/dealing")
async def post_dealing(
    election_id: ElectionId,
    index: TrusteeIndex,
    body: DealingIn,
    database: DatabaseDep,
    member: OrganisationMember,
) -> CeremonyOut:
    """Step 2 (trustee ``index``): Feldman commitments with proof, and n-1 sealed shares."""
    eid = str(election_id)

    async def run(session: AsyncSession) -> CeremonyOut:
        await ceremony.post_dealing(
            session,
            principal=member,
            election_id=eid,
            index=index,
            data=body,
            now=datetime.now(UTC),
        )
        return await ceremony.view(session, organisation_id=org(member), election_id=eid)

    return await _step(database, member, eid, index, "deal", run)


@router.get("/ceremony/trustees/{index}/shares")
async def get_shares(
    election_id: ElectionId, index: TrusteeIndex, session: SessionDep, member: OrganisationMember
) -> SharesOut:
    """The sealed shares addressed to trustee ``index`` (to that trustee only)."""
    return await ceremony.shares_for(
        session, principal=member, election_id=str(election_id), index=index
    )


@router.post("/ceremony/trustees/{index}/verification")
async def post_verification(
    election_id: ElectionId,
    index: TrusteeIndex,
    body: VerificationIn,
    database: DatabaseDep,
    member: OrganisationMember,
) -> CeremonyOut:
    """Step 3 (trustee ``index``): "ok", or complaints naming the senders of bad shares."""
    eid = str(election_id)

    async def run(session: AsyncSession) -> CeremonyOut:
        await ceremony.post_verification(
            session,
            principal=member,
            election_id=eid,
            index=index,
            data=body,
            now=datetime.now(UTC),
        )
        return await ceremony.view(session, organisation_id=org(member), election_id=eid)

    return await _step(database, member, eid, index, "verify", run)


@router.post("/ceremony/trustees/{index}/answers")
async def post_answer(
    election_id: ElectionId,
    index: TrusteeIndex,
    body: AnswerIn,
    database: DatabaseDep,
    member: OrganisationMember,
) -> CeremonyOut:
    """Trustee ``index`` answers a complaint against it by revealing the share publicly."""
    eid = str(election_id)

    async def run(session: AsyncSession) -> CeremonyOut:
        await ceremony.post_answer(
            session,
            principal=member,
            election_id=eid,
            index=index,
            accuser=body.accuser,
            share_hex=body.share,
            now=datetime.now(UTC),
        )
        return await ceremony.view(session, organisation_id=org(member), election_id=eid)

    return await _step(database, member, eid, index, "answer", run)
