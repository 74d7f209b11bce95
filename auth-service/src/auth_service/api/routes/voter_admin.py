"""Organisers and voter access: delivery counts and failures, invitations, resend,
reminders, and the dev mailbox."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from auth_service import voter_admin
from auth_service.api.deps import AuthContextDep, CurrentAdmin
from auth_service.context import as_utc
from auth_service.schemas import (
    DeliveryFailureList,
    DeliveryFailureOut,
    DeliveryReportOut,
    DevMailList,
    DevMailOut,
    QueuedOut,
    ResendOut,
)

router = APIRouter(prefix="/api/auth/elections/{election_id}", tags=["voter mail"])
VoterId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/mail")
async def delivery_report(
    election_id: uuid.UUID, ctx: AuthContextDep, principal: CurrentAdmin
) -> DeliveryReportOut:
    report = await voter_admin.delivery_report(
        ctx=ctx, principal=principal, election_id=str(election_id)
    )
    return DeliveryReportOut(
        election_id=report.election_id,
        state=report.state,
        voters=report.voters,
        tokens_issued=report.tokens_issued,
        messages=report.messages,
        failed_voters=report.failed_voters,
    )


@router.get("/mail/failures")
async def delivery_failures(
    election_id: uuid.UUID,
    ctx: AuthContextDep,
    principal: CurrentAdmin,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> DeliveryFailureList:
    failures = await voter_admin.delivery_failures(
        ctx=ctx, principal=principal, election_id=str(election_id), limit=limit
    )
    return DeliveryFailureList(
        failures=[
            DeliveryFailureOut(
                voter_id=item.voter_id,
                credential=item.credential,
                kind=item.kind,
                reason=item.reason,
                attempts=item.attempts,
                failed_at=item.failed_at,
            )
            for item in failures
        ]
    )


@router.post("/invitations", status_code=status.HTTP_202_ACCEPTED)
async def send_invitations(
    election_id: uuid.UUID, ctx: AuthContextDep, principal: CurrentAdmin
) -> QueuedOut:
    queued = await voter_admin.send_invitations(
        ctx=ctx, principal=principal, election_id=str(election_id)
    )
    return QueuedOut(queued=queued)


@router.post("/voters/{voter_id}/resend", status_code=status.HTTP_202_ACCEPTED)
async def resend(
    election_id: uuid.UUID, voter_id: VoterId, ctx: AuthContextDep, principal: CurrentAdmin
) -> ResendOut:
    message_id = await voter_admin.resend(
        ctx=ctx, principal=principal, election_id=str(election_id), voter_id=voter_id
    )
    return ResendOut(message_id=message_id)


@router.post("/reminders", status_code=status.HTTP_202_ACCEPTED)
async def remind(election_id: uuid.UUID, ctx: AuthContextDep, principal: CurrentAdmin) -> QueuedOut:
    queued = await voter_admin.remind(ctx=ctx, principal=principal, election_id=str(election_id))
    return QueuedOut(queued=queued)


@router.get("/dev-mailbox")
async def dev_mailbox(
    election_id: uuid.UUID,
    ctx: AuthContextDep,
    principal: CurrentAdmin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DevMailList:
    mails = await voter_admin.dev_mailbox(
        ctx=ctx, principal=principal, election_id=str(election_id), limit=limit
    )
    return DevMailList(
        mails=[
            DevMailOut(
                id=mail.id,
                to=mail.recipient,
                subject=mail.subject,
                text=mail.text_body,
                html=mail.html_body,
                created_at=as_utc(mail.created_at),
            )
            for mail in mails
        ]
    )
