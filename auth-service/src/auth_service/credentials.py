"""Re-checking the password before sensitive changes of one's own account, and changing it.

A wrong password here counts towards the lockout exactly as at login: a stolen access token
must not become a way to guess the password.

argon2 is slow on purpose, so it never runs inside a transaction (on SQLite every
transaction holds the database's write lock): the hash is checked against a snapshot first,
and the transaction that records the outcome makes sure the hash has not changed since.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.accounts import active_account, actor_of, revoke_all_sessions
from auth_service.context import SERVICE, AuthContext
from auth_service.errors import AuthServiceError, ConfirmationFailed, TooManyAttempts
from auth_service.lockout import locked_for, register_failure
from auth_service.models import Account
from securevote import audit
from securevote.auth import Principal


@dataclass(frozen=True)
class PasswordCheck:
    """A password checked against the hash the account had at the time."""

    checked_hash: str
    matches: bool

    def still_matches(self, account: Account) -> bool:
        return self.matches and account.password_hash == self.checked_hash


async def check_own_password(
    *, ctx: AuthContext, principal: Principal, password: str
) -> PasswordCheck:
    """Check the caller's password outside any transaction (a locked account is not
    checked at all: ``settle`` refuses it anyway)."""
    async with ctx.database.session() as session:
        account = await active_account(session, principal)
        checked_hash, locked = account.password_hash, locked_for(ctx, account) is not None
    matches = not locked and await ctx.passwords.verify(checked_hash, password)
    return PasswordCheck(checked_hash, matches)


async def settle(
    session: AsyncSession,
    ctx: AuthContext,
    account: Account,
    check: PasswordCheck,
    what: str,
    *,
    also_ok: bool = True,
) -> AuthServiceError | None:
    """Inside the change's transaction, with ``account`` locked: None if the password (and
    ``also_ok``, e.g. a TOTP code) was right; otherwise the failure is counted and audited
    and the refusal returned. ``what`` names the change in the audit log."""
    wait = locked_for(ctx, account)
    if wait is not None:
        return TooManyAttempts(wait)
    if check.still_matches(account) and also_ok:
        return None
    locked = register_failure(ctx, account)
    await audit.record(
        session,
        service=SERVICE,
        actor=actor_of(account),
        action=f"auth.{what}.confirm",
        target=actor_of(account),
        outcome=audit.Outcome.FAILURE,
        details={"locked": locked is not None},
    )
    if locked is not None:
        return TooManyAttempts(locked)
    return ConfirmationFailed("The password or code is not correct.")


async def change_password(
    *, ctx: AuthContext, principal: Principal, current_password: str, new_password: str
) -> None:
    """Change one's own password; every login session of the account ends."""
    check = await check_own_password(ctx=ctx, principal=principal, password=current_password)
    new_hash = await ctx.passwords.hash(new_password) if check.matches else ""
    refusal: AuthServiceError | None = None
    async with ctx.database.session() as session:
        account = await active_account(session, principal, for_update=True)
        refusal = await settle(session, ctx, account, check, "password")
        if refusal is None:
            now = ctx.now()
            account.password_hash = new_hash
            account.updated_at = now
            await revoke_all_sessions(session, account_id=account.id, now=now)
            await audit.record(
                session,
                service=SERVICE,
                actor=actor_of(account),
                action="auth.password.change",
                target=actor_of(account),
            )
    if refusal is not None:  # raised after the commit: the failure stays counted and audited
        raise refusal
