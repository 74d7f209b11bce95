"""Login sessions: login, refresh, logout, who am I, password change, and the JWKS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from auth_service import accounts, credentials, login, sessions
from auth_service.api.deps import AuthContextDep, ClientAddress, CurrentAdmin
from auth_service.schemas import (
    LoginRequest,
    MeOut,
    OrganisationOut,
    PasswordChange,
    RefreshRequest,
    TokenResponse,
)
from auth_service.sessions import IssuedTokens
from auth_service.views import account_out

router = APIRouter(prefix="/api/auth", tags=["session"])
NO_STORE = "no-store"


def _tokens(issued: IssuedTokens, response: Response) -> TokenResponse:
    response.headers["Cache-Control"] = NO_STORE
    return TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.access_expires_in,
        refresh_token=issued.refresh_token,
        refresh_expires_in=issued.refresh_expires_in,
    )


@router.post("/login")
async def log_in(
    body: LoginRequest, ctx: AuthContextDep, client: ClientAddress, response: Response
) -> TokenResponse:
    issued = await login.login(
        ctx=ctx, email=body.email, password=body.password, totp_code=body.totp_code, client=client
    )
    return _tokens(issued, response)


@router.post("/refresh")
async def refresh(
    body: RefreshRequest, ctx: AuthContextDep, client: ClientAddress, response: Response
) -> TokenResponse:
    issued = await sessions.refresh(ctx=ctx, refresh_token=body.refresh_token, client=client)
    return _tokens(issued, response)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, ctx: AuthContextDep) -> None:
    await sessions.logout(ctx=ctx, refresh_token=body.refresh_token)


@router.get("/me")
async def me(ctx: AuthContextDep, principal: CurrentAdmin) -> MeOut:
    found = await accounts.me(ctx=ctx, principal=principal)
    return MeOut(
        account=account_out(found.account, now=ctx.now()),
        organisation=OrganisationOut(id=found.organisation.id, name=found.organisation.name),
    )


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChange, ctx: AuthContextDep, principal: CurrentAdmin
) -> None:
    await credentials.change_password(
        ctx=ctx,
        principal=principal,
        current_password=body.current_password,
        new_password=body.new_password,
    )


@router.get("/jwks")
async def jwks(ctx: AuthContextDep, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "public, max-age=300"
    return ctx.signer.jwks()
