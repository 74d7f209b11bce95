"""TOTP as a second factor for accounts: enrol (password needed; the otpauth URI is shown
once), confirm with a first code (only then does login ask for codes), disable (password and
a code)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import totp
from auth_service.accounts import active_account, actor_of
from auth_service.context import SERVICE, AuthContext
from auth_service.credentials import check_own_password, settle
from auth_service.errors import AuthServiceError, ConfirmationFailed, Conflict
from auth_service.models import Account
from securevote import audit
from securevote.auth import Principal


@dataclass(frozen=True)
class Enrolment:
    otpauth_uri: str
    secret: str


async def _record(
    session: AsyncSession,
    account: Account,
    action: str,
    outcome: audit.Outcome = audit.Outcome.SUCCESS,
) -> None:
    await audit.record(
        session,
        service=SERVICE,
        actor=actor_of(account),
        action=action,
        target=actor_of(account),
        outcome=outcome,
    )


async def enrol(*, ctx: AuthContext, principal: Principal, password: str) -> Enrolment:
    """A new secret, pending until confirmed. Enrolling again before confirming replaces it."""
    check = await check_own_password(ctx=ctx, principal=principal, password=password)
    refusal: AuthServiceError | None = None
    async with ctx.database.session() as session:
        account = await active_account(session, principal, for_update=True)
        if account.totp_enabled_at is not None:
            raise Conflict("The second factor is already enabled; disable it first.")
        refusal = await settle(session, ctx, account, check, "totp.enrol")
        if refusal is None:
            secret = totp.new_secret()
            account.totp_secret = totp.seal(
                secret, account_id=account.id, server_secret=ctx.server_secret
            )
            account.totp_last_step = None
            account.updated_at = ctx.now()
            await _record(session, account, "auth.totp.enrol")
            issuer = ctx.policy.totp_issuer
            uri = totp.provisioning_uri(secret, account=account.email, issuer=issuer)
    if refusal is not None:
        raise refusal
    return Enrolment(otpauth_uri=uri, secret=secret)


async def confirm(*, ctx: AuthContext, principal: Principal, code: str) -> None:
    """Turn the pending secret on with a first valid code."""
    accepted = False
    async with ctx.database.session() as session:
        account = await active_account(session, principal, for_update=True)
        if account.totp_enabled_at is not None:
            raise Conflict("The second factor is already enabled.")
        if account.totp_secret is None:
            raise Conflict("There is no enrolment to confirm; enrol first.")
        secret = totp.unseal(
            account.totp_secret, account_id=account.id, server_secret=ctx.server_secret
        )
        step = totp.matching_step(secret, code, now=ctx.policy.clock(), last_step=None)
        accepted = step is not None
        if step is not None:
            account.totp_enabled_at = ctx.now()
            account.totp_last_step = step
            account.updated_at = account.totp_enabled_at
            await _record(session, account, "auth.totp.confirm")
        else:
            await _record(session, account, "auth.totp.confirm", audit.Outcome.FAILURE)
    if not accepted:
        raise ConfirmationFailed("The code is not correct.")


async def disable(*, ctx: AuthContext, principal: Principal, password: str, code: str) -> None:
    """Turn the second factor off; needs the password and a current code."""
    check = await check_own_password(ctx=ctx, principal=principal, password=password)
    refusal: AuthServiceError | None = None
    async with ctx.database.session() as session:
        account = await active_account(session, principal, for_update=True)
        if account.totp_enabled_at is None or account.totp_secret is None:
            raise Conflict("The second factor is not enabled.")
        secret = totp.unseal(
            account.totp_secret, account_id=account.id, server_secret=ctx.server_secret
        )
        step = totp.matching_step(
            secret, code, now=ctx.policy.clock(), last_step=account.totp_last_step
        )
        refusal = await settle(
            session, ctx, account, check, "totp.disable", also_ok=step is not None
        )
        if refusal is None:
            account.totp_secret = None
            account.totp_enabled_at = None
            account.totp_last_step = None
            account.updated_at = ctx.now()
            await _record(session, account, "auth.totp.disable")
    if refusal is not None:
        raise refusal
