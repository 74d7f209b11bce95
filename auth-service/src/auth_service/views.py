"""From stored rows to response bodies (no secret ever leaves through here)."""

from __future__ import annotations

from datetime import datetime

from auth_service.context import as_utc
from auth_service.models import Account
from auth_service.schemas import AccountOut
from securevote.auth import Role


def account_out(account: Account, *, now: datetime) -> AccountOut:
    return AccountOut(
        id=account.id,
        organisation_id=account.organisation_id,
        email=account.email,
        display_name=account.display_name,
        role=Role(account.role),
        totp_enabled=account.totp_enabled_at is not None,
        disabled=account.disabled_at is not None,
        locked=account.locked_until is not None and as_utc(account.locked_until) > now,
        created_at=as_utc(account.created_at),
        updated_at=as_utc(account.updated_at),
    )
