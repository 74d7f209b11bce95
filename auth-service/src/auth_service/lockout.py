"""Per-account lockout: ``lockout_failures`` failures in a row lock the account for
``lockout_seconds``. Callers hold the account row locked (SELECT … FOR UPDATE) so that
concurrent failures are all counted."""

from __future__ import annotations

from datetime import timedelta

from auth_service.context import AuthContext, as_utc
from auth_service.models import Account


def locked_for(ctx: AuthContext, account: Account) -> float | None:
    """Seconds the account stays locked, or None."""
    if account.locked_until is None:
        return None
    remaining = (as_utc(account.locked_until) - ctx.now()).total_seconds()
    return remaining if remaining > 0 else None


def register_failure(ctx: AuthContext, account: Account) -> float | None:
    """Count one failure; the lock's length in seconds if this failure locks the account."""
    now = ctx.now()
    if account.locked_until is not None and as_utc(account.locked_until) <= now:
        account.locked_until = None
    account.failed_logins += 1
    if account.failed_logins < ctx.policy.lockout_failures:
        return None
    account.failed_logins = 0
    account.locked_until = now + timedelta(seconds=ctx.policy.lockout_seconds)
    return float(ctx.policy.lockout_seconds)


def register_success(account: Account) -> None:
    account.failed_logins = 0
    account.locked_until = None
