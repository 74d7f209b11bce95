"""One-time voter tokens: issue (store only a keyed hash) and look up.

A voter has at most one current token per election: the row keyed by (election,
credential) holds its hash, and issuing again replaces the hash, which invalidates the
previous token at once. The raw token is returned to the caller (the mail worker), which
puts it into the mail and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.context import AuthContext
from auth_service.identity import (
    deterministic_voter_token,
    new_id,
    new_voter_token,
    voter_token_hash,
)
from auth_service.models import VoterToken
from auth_service.roll_reader import ElectionView, VoterView

_ISSUE_TRIES = 3


@dataclass(frozen=True)
class IssuedVoterToken:
    token: str
    generation: int
    expires_at: datetime


def token_expiry(ctx: AuthContext, election: ElectionView, now: datetime) -> datetime:
    """When a token issued now expires: at the close, or sooner in TEST_MODE."""
    if ctx.policy.voter_token_seconds is None:
        return election.closes_at
    return min(election.closes_at, now + timedelta(seconds=ctx.policy.voter_token_seconds))


def _raw_token(ctx: AuthContext, voter: VoterView, generation: int) -> str:
    seed = ctx.settings.test_seed
    if seed is not None and ctx.settings.test_mode:  # the settings refuse both in prod
        return deterministic_voter_token(
            seed, election_id=voter.election_id, credential=voter.credential, generation=generation
        )
    return new_voter_token()


async def issue(
    session: AsyncSession, ctx: AuthContext, *, election: ElectionView, voter: VoterView
) -> IssuedVoterToken:
    """Issue a new token for ``voter`` inside the caller's transaction, replacing (and so
    invalidating) the voter's previous one. Concurrent calls for one voter serialise on the
    row lock (PostgreSQL) or the write lock (SQLite); two first issues race on the unique
    constraint, and the loser retries as a re-issue."""
    now = ctx.now()
    expires = token_expiry(ctx, election, now)
    for _ in range(_ISSUE_TRIES):
        row = await session.scalar(
            select(VoterToken)
            .where(
                VoterToken.election_id == voter.election_id,
                VoterToken.credential == voter.credential,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        generation = 1 if row is None else row.generation + 1
        raw = _raw_token(ctx, voter, generation)
        token_hash = voter_token_hash(ctx.server_secret, raw)
        if row is not None:
            row.token_hash = token_hash
            row.generation = generation
            row.secret_digest = voter.secret_digest
            row.issued_at = now
            row.expires_at = expires
            row.spent_at = None
            await session.flush()
            return IssuedVoterToken(raw, generation, expires)
        try:
            async with session.begin_nested():
                session.add(
                    VoterToken(
                        id=new_id(),
                        election_id=voter.election_id,
                        credential=voter.credential,
                        token_hash=token_hash,
                        generation=generation,
                        secret_digest=voter.secret_digest,
                        issued_at=now,
                        expires_at=expires,
                    )
                )
            return IssuedVoterToken(raw, generation, expires)
        except IntegrityError:
            continue  # another issuer inserted first: replace theirs
    raise RuntimeError("could not issue a voter token")  # pragma: no cover


async def issue_many(
    session: AsyncSession,
    ctx: AuthContext,
    *,
    election: ElectionView,
    voters: Sequence[VoterView],
) -> dict[str, IssuedVoterToken]:
    """:func:`issue` for many voters of one election in a few statements (the mail worker's
    batches): existing rows are locked and updated, new ones inserted together; a voter whose
    first token another issuer inserted meanwhile goes through :func:`issue`."""
    now = ctx.now()
    expires = token_expiry(ctx, election, now)
    credentials = [voter.credential for voter in voters]
    existing = {
        row.credential: row
        for row in (
            await session.scalars(
                select(VoterToken)
                .where(
                    VoterToken.election_id == election.id,
                    VoterToken.credential.in_(credentials),
                )
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).all()
    }
    issued: dict[str, IssuedVoterToken] = {}
    fresh: dict[str, tuple[VoterView, IssuedVoterToken, dict[str, object]]] = {}
    for voter in voters:
        row = existing.get(voter.credential)
        generation = 1 if row is None else row.generation + 1
        raw = _raw_token(ctx, voter, generation)
        token = IssuedVoterToken(raw, generation, expires)
        token_hash = voter_token_hash(ctx.server_secret, raw)
        if row is not None:
            row.token_hash = token_hash
            row.generation = generation
            row.secret_digest = voter.secret_digest
            row.issued_at = now
            row.expires_at = expires
            row.spent_at = None
            issued[voter.credential] = token
            continue
        values: dict[str, object] = {
            "id": new_id(),
            "election_id": election.id,
            "credential": voter.credential,
            "token_hash": token_hash,
            "generation": generation,
            "secret_digest": voter.secret_digest,
            "issued_at": now,
            "expires_at": expires,
        }
        fresh[voter.credential] = (voter, token, values)
    await session.flush()
    if fresh:
        table = cast(Table, VoterToken.__table__)
        dialect = session.get_bind().dialect.name
        statement = postgresql_insert if dialect == "postgresql" else sqlite_insert
        connection = await session.connection()
        inserted = set(
            (
                await connection.execute(
                    statement(table).on_conflict_do_nothing().returning(table.c.credential),
                    [values for _voter, _token, values in fresh.values()],
                )
            ).scalars()
        )
        for credential, (voter, token, _values) in fresh.items():
            if credential in inserted:
                issued[credential] = token
            else:  # raced with another issuer: replace theirs
                issued[credential] = await issue(session, ctx, election=election, voter=voter)
    return issued


async def find(session: AsyncSession, ctx: AuthContext, token: str) -> VoterToken | None:
    """The row of a presented token (by its keyed hash), locked for the transaction."""
    token_hash = voter_token_hash(ctx.server_secret, token)
    return await session.scalar(
        select(VoterToken).where(VoterToken.token_hash == token_hash).with_for_update()
    )
