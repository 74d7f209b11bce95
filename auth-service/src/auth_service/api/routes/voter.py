"""Voter access: redeem a one-time token for a voter session (JSON and cookie)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from auth_service import redemption
from auth_service.api.deps import AuthContextDep, ClientAddress
from auth_service.schemas import RedeemRequest, VoterSessionOut
from securevote.deps import VOTER_SESSION_COOKIE

router = APIRouter(prefix="/api/auth/voter", tags=["voter access"])


@router.post("/redeem")
async def redeem(
    body: RedeemRequest, ctx: AuthContextDep, client: ClientAddress, response: Response
) -> VoterSessionOut:
    issued = await redemption.redeem(
        ctx=ctx, token=body.token, roll_secret=body.roll_secret, client=client
    )
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        VOTER_SESSION_COOKIE,
        issued.session_token,
        max_age=issued.expires_in,
        path="/",
        secure=ctx.settings.voter_cookie_secure,
        httponly=True,
        samesite="strict",
    )
    return VoterSessionOut(
        session_token=issued.session_token,
        expires_in=issued.expires_in,
        election_id=issued.election_id,
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(ctx: AuthContextDep, response: Response) -> None:
    """Clear the browser's voter session cookie (the JWT itself ends at its expiry)."""
    response.delete_cookie(
        VOTER_SESSION_COOKIE,
        path="/",
        secure=ctx.settings.voter_cookie_secure,
        httponly=True,
        samesite="strict",
    )
