"""What organisers do with voter access: delivery counts, failures, invitations now, resend
to one voter (with a cooldown), reminders to voters who have not voted, the dev mailbox.

Function checks use the caller's role as the database has it now; object checks find the
election only within the caller's organisation (another organisation's election is "not
found", exactly like one that does not exist).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import outbox
from auth_service.accounts import active_account, actor_of
from auth_service.context import SERVICE, AuthContext, as_utc
from auth_service.errors import ElectionNotOpen, NotAllowed, NotFound, TooManyAttempts
from auth_service.models import OUTBOX_KINDS, OUTBOX_STATES, DevMail, MailMessage, VoterToken
from auth_service.roll_reader import VOTERS, ElectionView, election, has_voted, voter_by_id
from securevote import audit
from securevote.auth import Principal, Role
from securevote.config import Mode

READ_DELIVERY = frozenset({Role.OWNER, Role.ADMIN, Role.TRUSTEE, Role.OBSERVER})
MANAGE_DELIVERY = frozenset({Role.OWNER, Role.ADMIN})


async def _election_for(
    session: AsyncSession, principal: Principal, election_id: str, allowed: frozenset[Role]
) -> tuple[str, ElectionView]:
    """The caller's actor name and the election, if the caller's role allows the function
    and the election is the caller's organisation's."""
    caller = await active_account(session, principal)
    if Role(caller.role) not in allowed:
        raise NotAllowed("Your role does not allow this.")
    found = await election(session, election_id)
    if found is None or found.organisation_id != caller.organisation_id:
        raise NotFound("No such election.")
    return actor_of(caller), found


@dataclass(frozen=True)
class DeliveryReport:
    election_id: str
    state: str
    voters: int
    tokens_issued: int
    messages: dict[str, dict[str, int]]  # kind -> status -> count
    failed_voters: int


async def delivery_report(
    *, ctx: AuthContext, principal: Principal, election_id: str
) -> DeliveryReport:
    async with ctx.database.session() as session:
        _actor, found = await _election_for(session, principal, election_id, READ_DELIVERY)
        voters = await session.scalar(
            select(func.count()).select_from(VOTERS).where(VOTERS.c.election_id == election_id)
        )
        tokens = await session.scalar(
            select(func.count())
            .select_from(VoterToken)
            .where(VoterToken.election_id == election_id)
        )
        grouped = (
            await session.execute(
                select(MailMessage.kind, MailMessage.status, func.count())
                .where(MailMessage.election_id == election_id)
                .group_by(MailMessage.kind, MailMessage.status)
            )
        ).all()
        failed_voters = await session.scalar(
            select(func.count(func.distinct(MailMessage.credential))).where(
                MailMessage.election_id == election_id, MailMessage.status == "failed"
            )
        )
    messages = {kind: dict.fromkeys(OUTBOX_STATES, 0) for kind in OUTBOX_KINDS}
    for kind, status, count in grouped:
        messages[kind][status] = int(count)
    return DeliveryReport(
        election_id=election_id,
        state=found.state,
        voters=int(voters or 0),
        tokens_issued=int(tokens or 0),
        messages=messages,
        failed_voters=int(failed_voters or 0),
    )


@dataclass(frozen=True)
class DeliveryFailure:
    voter_id: int | None
    credential: str
    kind: str
    reason: str
    attempts: int
    failed_at: datetime


async def delivery_failures(
    *, ctx: AuthContext, principal: Principal, election_id: str, limit: int = 1000
) -> list[DeliveryFailure]:
    async with ctx.database.session() as session:
        await _election_for(session, principal, election_id, MANAGE_DELIVERY)
        rows = (
            await session.execute(
                select(MailMessage, VOTERS.c.id)
                .outerjoin(
                    VOTERS,
                    (VOTERS.c.election_id == MailMessage.election_id)
                    & (VOTERS.c.credential == MailMessage.credential),
                )
                .where(MailMessage.election_id == election_id, MailMessage.status == "failed")
                .order_by(MailMessage.updated_at.desc(), MailMessage.id)
                .limit(limit)
            )
        ).all()
    return [
        DeliveryFailure(
            voter_id=int(voter_id) if voter_id is not None else None,
            credential=message.credential,
            kind=message.kind,
            reason=message.last_error or "unknown",
            attempts=message.attempts,
            failed_at=as_utc(message.updated_at),
        )
        for message, voter_id in rows
    ]


async def send_invitations(*, ctx: AuthContext, principal: Principal, election_id: str) -> int:
    """Queue the invitations of an open election now (the job does it anyway)."""
    async with ctx.database.session() as session:
        actor, found = await _election_for(session, principal, election_id, MANAGE_DELIVERY)
    if not found.is_open:
        raise ElectionNotOpen("Invitations are sent while the election is open.")
    return await outbox.enqueue_invitations(ctx, election_id=election_id, actor=actor)


async def _last_mail_at(
    session: AsyncSession, election_id: str, *, credential: str | None = None, kind: str | None
) -> datetime | None:
    query = select(func.max(MailMessage.created_at)).where(MailMessage.election_id == election_id)
    if credential is not None:
        query = query.where(MailMessage.credential == credential)
    if kind is not None:
        query = query.where(MailMessage.kind == kind)
    last = await session.scalar(query)
    return as_utc(last) if last is not None else None


def _cooldown_left(last: datetime | None, now: datetime, cooldown: int) -> float | None:
    if last is None:
        return None
    left = cooldown - (now - last).total_seconds()
    return left if left > 0 else None


async def resend(*, ctx: AuthContext, principal: Principal, election_id: str, voter_id: int) -> str:
    """Queue a new link for one voter (the new token replaces the old one when it is
    sent). At most one mail per voter per ``resend_cooldown_seconds``; the message id."""
    now = ctx.now()
    cooldown = ctx.policy.resend_cooldown_seconds
    async with ctx.database.session() as session:
        actor, found = await _election_for(session, principal, election_id, MANAGE_DELIVERY)
        voter = await voter_by_id(session, election_id, voter_id)
        if voter is None:
            raise NotFound("No such voter in this election.")
        if not found.is_open:
            raise ElectionNotOpen("Links are sent while the election is open.")
        last = await _last_mail_at(session, election_id, credential=voter.credential, kind=None)
        wait = _cooldown_left(last, now, cooldown)
        if wait is not None:
            raise TooManyAttempts(wait)
        bucket = str(int(now.timestamp()) // cooldown)
        row = outbox.message_row(
            ctx,
            election_id=election_id,
            credential=voter.credential,
            kind="resend",
            key=outbox.dedup_key("resend", election_id, voter.credential, bucket),
            actor=actor,
        )
        try:
            async with session.begin_nested():
                session.add(MailMessage(**row))
        except IntegrityError as exc:  # a concurrent resend for this voter won
            raise TooManyAttempts(float(cooldown)) from exc
        await audit.record(
            session,
            service=SERVICE,
            actor=actor,
            action="auth.mail.resend",
            target=f"credential:{voter.credential}",
            details={"election": election_id, "voter": voter.id},
        )
        return str(row["id"])


async def remind(*, ctx: AuthContext, principal: Principal, election_id: str) -> int:
    """Queue a reminder (with a fresh link) for every voter who has been mailed successfully
    and has no ballot stored. At most one round per ``reminder_cooldown_seconds``."""
    now = ctx.now()
    cooldown = ctx.policy.reminder_cooldown_seconds
    async with ctx.database.session() as session:
        actor, found = await _election_for(session, principal, election_id, MANAGE_DELIVERY)
        if not found.is_open:
            raise ElectionNotOpen("Reminders are sent while the election is open.")
        wait = _cooldown_left(
            await _last_mail_at(session, election_id, kind="reminder"), now, cooldown
        )
        if wait is not None:
            raise TooManyAttempts(wait)
    bucket = str(int(now.timestamp()) // cooldown)
    queued = 0
    after = ""
    while True:
        async with ctx.database.session() as session:
            reached = select(MailMessage.id).where(
                MailMessage.election_id == VOTERS.c.election_id,
                MailMessage.credential == VOTERS.c.credential,
                MailMessage.status == "sent",
            )
            credentials = (
                await session.scalars(
                    select(VOTERS.c.credential)
                    .where(
                        VOTERS.c.election_id == election_id,
                        VOTERS.c.credential > after,
                        reached.exists(),
                        ~has_voted(VOTERS.c.election_id, VOTERS.c.credential),
                    )
                    .order_by(VOTERS.c.credential)
                    .limit(outbox.ENQUEUE_BATCH)
                )
            ).all()
            if not credentials:
                break
            after = credentials[-1]
            rows = [
                outbox.message_row(
                    ctx,
                    election_id=election_id,
                    credential=credential,
                    kind="reminder",
                    key=outbox.dedup_key("reminder", election_id, credential, bucket),
                    actor=actor,
                )
                for credential in credentials
            ]
            queued += await outbox.insert_messages(session, rows)
    async with ctx.database.session() as session:
        await audit.record(
            session,
            service=SERVICE,
            actor=actor,
            action="auth.mail.reminders",
            target=f"election:{election_id}",
            details={"count": queued},
        )
    return queued


async def dev_mailbox(
    *, ctx: AuthContext, principal: Principal, election_id: str, limit: int = 100
) -> Sequence[DevMail]:
    """The dev mailbox of an election (not in prod mode, where it does not exist)."""
    if ctx.settings.mode is Mode.PROD:
        raise NotFound("There is no dev mailbox in prod mode.")
    async with ctx.database.session() as session:
        await _election_for(session, principal, election_id, MANAGE_DELIVERY)
        return (
            await session.scalars(
                select(DevMail)
                .where(DevMail.election_id == election_id)
                .order_by(DevMail.id.desc())
                .limit(limit)
            )
        ).all()
