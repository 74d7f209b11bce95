"""Login, refresh and logout.

A login session is a family of refresh tokens. Each refresh spends the presented token and
issues the next; a spent token presented again means someone kept a copy, so the whole family
is revoked (both the thief and the owner must log in again). Only keyed hashes of refresh
tokens are stored.

Failures are written (counters, lockouts, audit entries) in a transaction that commits, and
the refusal is raised only afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.accounts import actor_of
from auth_service.context import SERVICE, AuthContext, as_utc
from auth_service.errors import (
    InvalidRefreshToken,
    TooManyAttempts,
)
from auth_service.identity import (
    new_id,
    new_refresh_token,
    refresh_token_hash,
)
from auth_service.models import Account, RefreshToken
from securevote import audit
from securevote.auth import PrincipalKind

_INVALID_REFRESH = "The refresh token is not valid."


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    access_expires_in: int
    refresh_token: str
    refresh_expires_in: int


async def record(
    session: AsyncSession,
    *,
    action: str,
    actor: str,
    target: str,
    outcome: audit.Outcome = audit.Outcome.SUCCESS,
    **details: object,
) -> None:
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action=action,
        target=target,
        outcome=outcome,
        details=details,
    )


async def issue(
    session: AsyncSession,
    ctx: AuthContext,
    account: Account,
    *,
    family_id: str | None = None,
    family_started_at: datetime | None = None,
) -> IssuedTokens:
    now = ctx.now()
    started = as_utc(family_started_at) if family_started_at else now
    session_end = started + timedelta(seconds=ctx.policy.session_max_seconds)
    expires = min(now + timedelta(seconds=ctx.policy.refresh_token_seconds), session_end)
    raw = new_refresh_token()
    session.add(
        RefreshToken(
            id=new_id(),
            account_id=account.id,
            family_id=family_id or new_id(),
            token_hash=refresh_token_hash(ctx.server_secret, raw),
            family_started_at=started,
            issued_at=now,
            expires_at=expires,
        )
    )
    await session.flush()
    claims = {
        "sub": account.id,
        "kind": PrincipalKind.ADMIN.value,
        "org": account.organisation_id,
        "roles": [account.role],
    }
    ttl = ctx.policy.access_token_seconds
    return IssuedTokens(
        access_token=ctx.signer.issue(claims, ttl_seconds=ttl),
        access_expires_in=ttl,
        refresh_token=raw,
        refresh_expires_in=max(1, int((expires - now).total_seconds())),
    )


async def _revoke_family(session: AsyncSession, ctx: AuthContext, family_id: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=ctx.now())
    )


async def refresh(*, ctx: AuthContext, refresh_token: str, client: str) -> IssuedTokens:
    """Spend a refresh token for a new access token and the next refresh token."""
    wait = ctx.refresh_limiter.hit(f"refresh:{client}")
    if wait is not None:
        raise TooManyAttempts(wait)
    token_hash = refresh_token_hash(ctx.server_secret, refresh_token)
    tokens: IssuedTokens | None = None
    async with ctx.database.session() as session:
        row = await session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        )
        if row is not None and row.revoked_at is None:
            tokens = await _rotate(session, ctx, row, client)
    if tokens is None:
        raise InvalidRefreshToken(_INVALID_REFRESH)
    return tokens


async def _rotate(
    session: AsyncSession, ctx: AuthContext, row: RefreshToken, client: str
) -> IssuedTokens | None:
    now = ctx.now()
    account = await session.get(Account, row.account_id)
    assert account is not None  # a foreign key guarantees it
    spent = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.id == row.id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(spent, CursorResult)
    if spent.rowcount != 1:  # spent before: a copy of the token is in someone else's hands
        await _revoke_family(session, ctx, row.family_id)
        await record(
            session,
            action="auth.refresh.reuse",
            actor="anonymous",
            target=actor_of(account),
            outcome=audit.Outcome.DENIED,
            client=client,
            family=row.family_id,
        )
        return None
    if as_utc(row.expires_at) <= now or account.disabled_at is not None:
        await _revoke_family(session, ctx, row.family_id)
        return None
    return await issue(
        session, ctx, account, family_id=row.family_id, family_started_at=row.family_started_at
    )


async def logout(*, ctx: AuthContext, refresh_token: str) -> None:
    """End the login session the refresh token belongs to. Unknown tokens are ignored, so
    the answer says nothing about them."""
    token_hash = refresh_token_hash(ctx.server_secret, refresh_token)
    async with ctx.database.session() as session:
        row = await session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        )
        if row is None or row.revoked_at is not None:
            return
        await _revoke_family(session, ctx, row.family_id)
        actor = f"account:{row.account_id}"
        await record(session, action="auth.logout", actor=actor, target=actor, family=row.family_id)
