"""Accounts of the caller's organisation: owners manage them, admins may read them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from auth_service import accounts
from auth_service.api.deps import AuthContextDep, CurrentAdmin
from auth_service.schemas import AccountCreate, AccountList, AccountOut, AccountUpdate
from auth_service.views import account_out

router = APIRouter(prefix="/api/auth/accounts", tags=["accounts"])


@router.get("")
async def list_accounts(ctx: AuthContextDep, principal: CurrentAdmin) -> AccountList:
    found = await accounts.list_accounts(ctx=ctx, principal=principal)
    now = ctx.now()
    return AccountList(accounts=[account_out(account, now=now) for account in found])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_account(
    body: AccountCreate, ctx: AuthContextDep, principal: CurrentAdmin
) -> AccountOut:
    account = await accounts.create_account(
        ctx=ctx,
        principal=principal,
        email=body.email,
        display_name=body.display_name,
        role=body.role,
        password=body.password,
    )
    return account_out(account, now=ctx.now())


@router.get("/{account_id}")
async def get_account(
    account_id: uuid.UUID, ctx: AuthContextDep, principal: CurrentAdmin
) -> AccountOut:
    account = await accounts.get_account(ctx=ctx, principal=principal, account_id=str(account_id))
    return account_out(account, now=ctx.now())


@router.patch("/{account_id}")
async def update_account(
    account_id: uuid.UUID, body: AccountUpdate, ctx: AuthContextDep, principal: CurrentAdmin
) -> AccountOut:
    account = await accounts.update_account(
        ctx=ctx,
        principal=principal,
        account_id=str(account_id),
        display_name=body.display_name,
        role=body.role,
        disabled=body.disabled,
    )
    return account_out(account, now=ctx.now())
