"""Login: an e-mail address and password (and a TOTP code, once enabled) for tokens.

Unknown address, wrong password and disabled account give the same refusal after the same
work (an unknown address is checked against a dummy argon2 hash), and unknown addresses lock
out like real ones, so neither the answers nor the lockouts tell which addresses exist.
Failures are counted and audited in a transaction that commits; the refusal is raised after.
"""

from __future__ import annotations

from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import totp
from auth_service.accounts import actor_of
from auth_service.context import AuthContext
from auth_service.errors import (
    AuthServiceError,
    InvalidCredentials,
    InvalidSecondFactor,
    SecondFactorRequired,
    TooManyAttempts,
)
from auth_service.identity import comparison_key, pseudonymous_email
from auth_service.lockout import locked_for, register_failure, register_success
from auth_service.models import Account
from auth_service.sessions import IssuedTokens, issue, record
from securevote import audit

_INVALID = "The e-mail address or the password is not correct."


async def login(
    *, ctx: AuthContext, email: str, password: str, totp_code: str | None, client: str
) -> IssuedTokens:
    """Tokens for a right e-mail address and password (and TOTP code, once enabled).

    The password is checked against a snapshot of the account outside any transaction
    (argon2 is slow, and on SQLite a transaction holds the write lock); the transaction
    that records the outcome locks the account row and makes sure the hash is unchanged."""
    wait = ctx.login_limiter.hit(f"login:{client}")
    if wait is not None:
        raise TooManyAttempts(wait)
    email_key = comparison_key(email)
    async with ctx.database.session() as session:
        snapshot = await session.scalar(select(Account).where(Account.email_key == email_key))
    if snapshot is None:
        await _refuse_unknown(ctx, email_key, password, client)
    locked = locked_for(ctx, snapshot) is not None
    matches = not locked and await ctx.passwords.verify(snapshot.password_hash, password)
    new_hash = None
    if matches and ctx.passwords.needs_rehash(snapshot.password_hash):
        new_hash = await ctx.passwords.hash(password)

    tokens: IssuedTokens | None = None
    async with ctx.database.session() as session:
        account = await session.get(
            Account, snapshot.id, with_for_update=True, populate_existing=True
        )
        assert account is not None  # accounts are disabled, never deleted
        password_ok = matches and account.password_hash == snapshot.password_hash
        refusal = await _check_account(session, ctx, account, password_ok, totp_code, client)
        if refusal is None:
            if new_hash is not None:
                account.password_hash = new_hash
            tokens = await issue(session, ctx, account)
            await record(
                session,
                action="auth.login",
                actor=actor_of(account),
                target=actor_of(account),
                client=client,
                second_factor=account.totp_enabled_at is not None,
            )
    if refusal is not None:  # raised after the commit: the failure stays counted and audited
        raise refusal
    assert tokens is not None
    return tokens


async def _refuse_unknown(ctx: AuthContext, email_key: str, password: str, client: str) -> NoReturn:
    """No account has this address: the same work and the same answers as a wrong password,
    including the lockout (kept in process memory, since there is no row to count on)."""
    key = f"unknown-account:{email_key}"
    target = f"unknown-email:{pseudonymous_email(ctx.server_secret, email_key)}"
    wait = ctx.unknown_account_failures.blocked_for(key)
    if wait is None:
        await ctx.passwords.verify(None, password)
        ctx.unknown_account_failures.hit(key)
    async with ctx.database.session() as session:
        if wait is not None:
            await record(
                session,
                action="auth.login",
                actor="anonymous",
                target=target,
                outcome=audit.Outcome.DENIED,
                client=client,
                reason="locked",
            )
            raise TooManyAttempts(wait)
        await record(
            session,
            action="auth.login",
            actor="anonymous",
            target=target,
            outcome=audit.Outcome.FAILURE,
            client=client,
            reason="unknown_account",
        )
        wait = ctx.unknown_account_failures.blocked_for(key)
        if wait is not None:
            await record(session, action="auth.lockout", actor="anonymous", target=target)
    if wait is not None:
        raise TooManyAttempts(wait)
    raise InvalidCredentials(_INVALID)


async def _check_account(
    session: AsyncSession,
    ctx: AuthContext,
    account: Account,
    password_ok: bool,
    totp_code: str | None,
    client: str,
) -> AuthServiceError | None:
    """None if the account may log in now; otherwise the refusal, with its bookkeeping."""
    target = actor_of(account)
    wait = locked_for(ctx, account)
    if wait is not None:
        await record(
            session,
            action="auth.login",
            actor="anonymous",
            target=target,
            outcome=audit.Outcome.DENIED,
            client=client,
            reason="locked",
        )
        return TooManyAttempts(wait)
    if password_ok and account.disabled_at is not None:
        await record(
            session,
            action="auth.login",
            actor="anonymous",
            target=target,
            outcome=audit.Outcome.FAILURE,
            client=client,
            reason="disabled",
        )
        return InvalidCredentials(_INVALID)
    if not password_ok:
        return await _failure(session, ctx, account, client, "wrong_password")
    if account.totp_enabled_at is not None:
        if totp_code is None:
            return SecondFactorRequired("This account needs a code from its authenticator.")
        secret = totp.unseal(
            account.totp_secret or "", account_id=account.id, server_secret=ctx.server_secret
        )
        step = totp.matching_step(
            secret, totp_code, now=ctx.policy.clock(), last_step=account.totp_last_step
        )
        if step is None:
            return await _failure(session, ctx, account, client, "wrong_totp")
        account.totp_last_step = step
    register_success(account)
    return None


async def _failure(
    session: AsyncSession, ctx: AuthContext, account: Account, client: str, reason: str
) -> AuthServiceError:
    locked = register_failure(ctx, account)
    target = actor_of(account)
    await record(
        session,
        action="auth.login",
        actor="anonymous",
        target=target,
        outcome=audit.Outcome.FAILURE,
        client=client,
        reason=reason,
    )
    if locked is not None:
        await record(session, action="auth.lockout", actor="anonymous", target=target)
        return TooManyAttempts(locked)
    if reason == "wrong_totp":
        return InvalidSecondFactor("The code from the authenticator is not correct.")
    return InvalidCredentials(_INVALID)
