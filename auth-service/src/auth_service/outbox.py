"""The mail outbox: invitations enqueued for open elections, and the worker that sends them.

Enqueueing writes rows without personal data or tokens (election, credential, kind). The
worker claims a batch of due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
workers never take the same row; SQLite has one writer at a time), then:

1. in one transaction, issues a fresh token for each voter of the batch, storing only its
   keyed hash, and audits the issue (one entry per election and batch, naming the
   credentials);
2. composes the mails and sends them over ``mail_concurrency`` SMTP connections;
3. in one transaction, marks each row sent, or schedules a retry with exponential backoff,
   or records a permanent failure for that voter (audited per voter).

A retry issues another fresh token, so the raw token exists only in the mail. A claimed
row whose worker died returns to the queue when its lease ends; every change to a row is
conditional on the claim (status and attempt number), so a late worker changes nothing.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import metrics, voter_tokens
from auth_service.context import SERVICE, AuthContext
from auth_service.identity import new_id
from auth_service.mail import (
    DeliveryFailed,
    OutgoingMail,
    Transport,
    compose,
    mail_configured,
    new_transport,
)
from auth_service.models import MailMessage
from auth_service.roll_reader import (
    VOTERS,
    election,
    open_election_ids,
    voters_by_credential,
)
from auth_service.voter_tokens import IssuedVoterToken
from securevote import audit
from securevote.config import Settings
from securevote.db import Database
from securevote.jobs import Job
from securevote.logging import get_logger

log = get_logger(__name__)
ENQUEUE_BATCH = 5_000
SYSTEM_ACTOR = "system:invitations"


def dedup_key(kind: str, election_id: str, credential: str, suffix: str = "") -> str:
    key = f"{kind}:{election_id}:{credential}"
    return f"{key}:{suffix}" if suffix else key


def insert_ignoring_duplicates(session: AsyncSession) -> Any:
    """INSERT … ON CONFLICT (dedup_key) DO NOTHING for the session's database."""
    dialect = session.get_bind().dialect.name
    statement = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = cast(Table, MailMessage.__table__)
    return (
        statement(table).on_conflict_do_nothing(index_elements=["dedup_key"]).returning(table.c.id)
    )


async def insert_messages(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Insert outbox rows, skipping any whose ``dedup_key`` exists; how many were new."""
    connection = await session.connection()
    result = await connection.execute(insert_ignoring_duplicates(session), rows)
    return len(result.all())


def message_row(
    ctx: AuthContext, *, election_id: str, credential: str, kind: str, key: str, actor: str
) -> dict[str, Any]:
    now = ctx.now()
    return {
        "id": new_id(),
        "election_id": election_id,
        "credential": credential,
        "kind": kind,
        "dedup_key": key,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "requested_by": actor,
        "created_at": now,
        "updated_at": now,
    }


async def enqueue_invitations(
    ctx: AuthContext, *, election_id: str | None = None, actor: str = SYSTEM_ACTOR
) -> int:
    """Queue one invitation for every voter of every open election (or of ``election_id``,
    if open) who has none yet. Safe to run anywhere at once: the unique ``dedup_key``
    keeps one invitation per voter."""
    async with ctx.database.session() as session:
        open_ids = await open_election_ids(session)
    targets = [eid for eid in open_ids if election_id is None or eid == election_id]
    total = 0
    for eid in targets:
        queued = 0
        while True:
            async with ctx.database.session() as session:
                invited = select(MailMessage.id).where(
                    MailMessage.election_id == VOTERS.c.election_id,
                    MailMessage.credential == VOTERS.c.credential,
                    MailMessage.kind == "invitation",
                )
                credentials = (
                    await session.scalars(
                        select(VOTERS.c.credential)
                        .where(VOTERS.c.election_id == eid, ~invited.exists())
                        .order_by(VOTERS.c.credential)
                        .limit(ENQUEUE_BATCH)
                    )
                ).all()
                if not credentials:
                    break
                rows = [
                    message_row(
                        ctx,
                        election_id=eid,
                        credential=credential,
                        kind="invitation",
                        key=dedup_key("invitation", eid, credential),
                        actor=actor,
                    )
                    for credential in credentials
                ]
                added = await insert_messages(session, rows)
                queued += added
                if added:
                    await audit.record(
                        session,
                        service=SERVICE,
                        actor=actor,
                        action="auth.invitations.enqueue",
                        target=f"election:{eid}",
                        details={"count": added},
                    )
        if queued:
            log.info("invitations_enqueued", election_id=eid, count=queued)
        total += queued
    return total


@dataclass(frozen=True)
class Claim:
    message_id: str
    attempt: int


async def claim(ctx: AuthContext, *, limit: int) -> list[Claim]:
    """Take up to ``limit`` due messages for this worker (status ``sending`` with a lease)."""
    now = ctx.now()
    lease = now + timedelta(seconds=ctx.policy.mail_lease_seconds)
    async with ctx.database.session() as session:
        # A message whose workers keep dying with it gives up like any other.
        await session.execute(
            update(MailMessage)
            .where(
                MailMessage.status == "sending",
                MailMessage.lease_until < now,
                MailMessage.attempts >= ctx.policy.mail_max_attempts,
            )
            .values(status="failed", last_error="gave_up:worker_lost", lease_until=None)
            .execution_options(synchronize_session=False)
        )
        due = or_(
            and_(MailMessage.status == "pending", MailMessage.next_attempt_at <= now),
            and_(MailMessage.status == "sending", MailMessage.lease_until < now),
        )
        query = (
            select(MailMessage.id, MailMessage.attempts)
            .where(due)
            .order_by(MailMessage.next_attempt_at, MailMessage.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = (await session.execute(query)).all()
        if not rows:
            return []
        await session.execute(
            update(MailMessage)
            .where(MailMessage.id.in_([row.id for row in rows]))
            .values(
                status="sending",
                lease_until=lease,
                attempts=MailMessage.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    return [Claim(row.id, row.attempts + 1) for row in rows]


def backoff_seconds(ctx: AuthContext, attempt: int) -> float:
    """Exponential: the first retry after ``mail_backoff_seconds``, doubling, capped; plus
    up to 10 % jitter so that retries of one batch do not arrive at once."""
    policy = ctx.policy
    base = min(policy.mail_backoff_max_seconds, policy.mail_backoff_seconds * 2 ** (attempt - 1))
    return float(base * (1 + secrets.randbelow(101) / 1000))


@dataclass
class _Work:
    """One claimed message on its way: the mail to send, or already an outcome."""

    claim: Claim
    credential: str = ""
    election_id: str = ""
    kind: str = ""
    mail: OutgoingMail | None = None
    outcome: str = ""  # sent, deferred, failed, cancelled, lost, error
    reason: str | None = None
    retry_at: datetime | None = None


async def _prepare(ctx: AuthContext, claims: list[Claim]) -> list[_Work]:
    """One transaction for the batch: check each claim still holds, read the roll, issue a
    fresh token per voter (only its hash is stored) and compose the mails."""
    work = [_Work(item) for item in claims]
    issued_for: dict[str, list[str]] = {}
    async with ctx.database.session() as session:
        messages = {
            message.id: message
            for message in (
                await session.scalars(
                    select(MailMessage)
                    .where(MailMessage.id.in_([item.message_id for item in claims]))
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            ).all()
        }
        live: list[tuple[_Work, MailMessage]] = []
        for item in work:
            message = messages.get(item.claim.message_id)
            if message is None or message.status != "sending":
                item.outcome = "lost"  # the lease ran out and another worker took it
            elif message.attempts != item.claim.attempt:
                item.outcome = "lost"
            else:
                item.credential, item.election_id = message.credential, message.election_id
                item.kind = message.kind
                live.append((item, message))
        for election_id in sorted({item.election_id for item, _message in live}):
            batch = [(item, message) for item, message in live if item.election_id == election_id]
            found = await election(session, election_id)
            voters = await voters_by_credential(
                session, election_id, [item.credential for item, _message in batch]
            )
            issued: dict[str, IssuedVoterToken] = {}
            if found is not None and found.is_open:
                issued = await voter_tokens.issue_many(
                    session, ctx, election=found, voters=list(voters.values())
                )
            for item, message in batch:
                voter = voters.get(item.credential)
                if found is None or not found.is_open or voter is None:
                    message.status = "cancelled"
                    message.last_error = "voter_not_found" if voter is None else "election_not_open"
                    message.lease_until = None
                    message.updated_at = ctx.now()
                    item.outcome = "cancelled"
                    continue
                metrics.TOKENS_ISSUED.inc()
                issued_for.setdefault(election_id, []).append(voter.credential)
                try:
                    item.mail = compose(
                        ctx.settings,
                        message_id=message.id,
                        kind=message.kind,
                        election=found,
                        voter=voter,
                        token=issued[voter.credential].token,
                    )
                except (ValueError, TypeError, UnicodeError) as exc:  # cannot be built
                    item.outcome, item.reason = "failed", "invalid_message"
                    log.warning("mail_failed", message_id=message.id, exc_info=exc)
        for election_id, credentials in issued_for.items():
            await audit.record(
                session,
                service=SERVICE,
                actor="system:mail",
                action="auth.voter_token.issue",
                target=f"election:{election_id}",
                details={"count": len(credentials), "credentials": credentials},
            )
    return work


async def _send(ctx: AuthContext, transport: Transport, item: _Work) -> None:
    assert item.mail is not None
    try:
        await transport.send(item.mail)
    except DeliveryFailed as failure:
        if failure.permanent or item.claim.attempt >= ctx.policy.mail_max_attempts:
            item.outcome = "failed"
            item.reason = failure.reason if failure.permanent else f"gave_up:{failure.reason}"
            log.warning("mail_failed", message_id=item.claim.message_id, reason=item.reason)
        else:
            item.outcome, item.reason = "deferred", failure.reason
            delay = backoff_seconds(ctx, item.claim.attempt)
            item.retry_at = ctx.now() + timedelta(seconds=delay)
            log.info("mail_deferred", message_id=item.claim.message_id, reason=failure.reason)
    except (ValueError, TypeError, UnicodeError) as exc:  # the message cannot be encoded
        item.outcome, item.reason = "failed", "invalid_message"
        log.warning("mail_failed", message_id=item.claim.message_id, exc_info=exc)
    else:
        item.outcome = "sent"


async def _send_all(ctx: AuthContext, work: list[_Work], make: Callable[[], Transport]) -> None:
    """Send the composed mails over ``mail_concurrency`` transports at once. A transport
    error nobody expected leaves the message claimed: its lease returns it to the queue."""
    pending = [item for item in work if item.mail is not None and not item.outcome]
    queue: asyncio.Queue[_Work] = asyncio.Queue()
    for item in pending:
        queue.put_nowait(item)

    async def worker() -> None:
        transport = make()
        try:
            while not queue.empty():
                item = queue.get_nowait()
                try:
                    await _send(ctx, transport, item)
                except Exception as exc:
                    log.error("mail_delivery_error", message_id=item.claim.message_id, exc_info=exc)
                    item.outcome = "error"
        finally:
            await transport.close()

    if pending:
        workers = max(1, min(ctx.policy.mail_concurrency, len(pending)))
        await asyncio.gather(*(worker() for _ in range(workers)))


async def _settle_all(ctx: AuthContext, work: list[_Work]) -> None:
    """One transaction: record what happened to each message, if its claim still holds.
    The failures are audited after every message is updated (the audit log's lock is held
    from the first entry to the commit)."""
    settled = [item for item in work if item.outcome in ("sent", "deferred", "failed")]
    if not settled:
        return
    now = ctx.now()
    failed: list[_Work] = []
    async with ctx.database.session() as session:
        messages = {
            message.id: message
            for message in (
                await session.scalars(
                    select(MailMessage)
                    .where(MailMessage.id.in_([item.claim.message_id for item in settled]))
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            ).all()
        }
        for item in settled:
            message = messages.get(item.claim.message_id)
            if message is None or message.status != "sending":
                item.outcome = "lost"
                continue
            if message.attempts != item.claim.attempt:
                item.outcome = "lost"
                continue
            message.updated_at = now
            message.lease_until = None
            message.last_error = item.reason
            if item.outcome == "sent":
                message.status, message.sent_at = "sent", now
            elif item.outcome == "deferred":
                assert item.retry_at is not None
                message.status, message.next_attempt_at = "pending", item.retry_at
            else:
                message.status = "failed"
                failed.append(item)
        for item in failed:
            await audit.record(
                session,
                service=SERVICE,
                actor="system:mail",
                action="auth.mail.failed",
                target=f"credential:{item.credential}",
                outcome=audit.Outcome.FAILURE,
                details={
                    "election": item.election_id,
                    "kind": item.kind,
                    "reason": item.reason,
                    "attempts": item.claim.attempt,
                },
            )


async def _deliver(
    ctx: AuthContext, claims: list[Claim], make: Callable[[], Transport]
) -> list[_Work]:
    work = await _prepare(ctx, claims)
    await _send_all(ctx, work, make)
    await _settle_all(ctx, work)
    for item in work:
        if item.outcome in ("sent", "deferred", "failed", "cancelled"):
            metrics.MAIL_SENT.labels(item.outcome).inc()
    return work


async def deliver_one(ctx: AuthContext, transport: Transport, item: Claim) -> str:
    """Issue, compose, send and settle one claimed message; the outcome's name."""
    (done,) = await _deliver(ctx, [item], lambda: transport)
    return done.outcome


async def deliver_due(
    ctx: AuthContext, *, transport_factory: Callable[[], Transport] | None = None
) -> dict[str, int]:
    """Claim one batch of due messages and deliver it; counts by outcome."""
    if not mail_configured(ctx.settings):
        log.error("mail_not_configured")
        return {}
    claimed = await claim(ctx, limit=ctx.policy.mail_batch_size)
    if not claimed:
        return {}

    def make() -> Transport:
        if transport_factory is not None:
            return transport_factory()
        return new_transport(ctx.settings, ctx.database)

    counts: dict[str, int] = {}
    for item in await _deliver(ctx, claimed, make):
        counts[item.outcome] = counts.get(item.outcome, 0) + 1
    log.info("mail_batch", **counts)
    return counts


async def run_until_idle(
    ctx: AuthContext, *, transport_factory: Callable[[], Transport] | None = None
) -> dict[str, int]:
    """Send batches until nothing is due now (a cron run empties what is due)."""
    totals: dict[str, int] = {}
    while True:
        counts = await deliver_due(ctx, transport_factory=transport_factory)
        for name, count in counts.items():
            totals[name] = totals.get(name, 0) + count
        if not counts:
            return totals


async def outbox_depth(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(MailMessage)
        .where(MailMessage.status.in_(("pending", "sending")))
    )
    return int(count or 0)


async def _with_context(database: Database, settings: Settings, work: Any) -> int:
    ctx = AuthContext.build(settings=settings, database=database)
    try:
        result: int = await work(ctx)
        return result
    finally:
        await ctx.aclose()


async def run_invitations_job(database: Database, settings: Settings) -> int:
    async def work(ctx: AuthContext) -> int:
        return await enqueue_invitations(ctx)

    return await _with_context(database, settings, work)


async def run_mail_job(database: Database, settings: Settings) -> int:
    async def work(ctx: AuthContext) -> int:
        await enqueue_invitations(ctx)
        totals = await run_until_idle(ctx)
        return sum(totals.values())

    return await _with_context(database, settings, work)


INVITATIONS_JOB = Job(
    name="invitations",
    run_once=run_invitations_job,
    interval_seconds=30.0,
    description="queue an invitation for every voter of every open election",
)
MAIL_JOB = Job(
    name="mail",
    run_once=run_mail_job,
    interval_seconds=5.0,
    description="send due voter mail (invitations, resends, reminders) with retries",
)
