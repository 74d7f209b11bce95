"""The caller's own second factor (TOTP): enrol, confirm, disable."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from auth_service import second_factor
from auth_service.api.deps import AuthContextDep, CurrentAdmin
from auth_service.schemas import TotpConfirm, TotpDisable, TotpEnrolment, TotpEnrolRequest

router = APIRouter(prefix="/api/auth/totp", tags=["second factor"])


@router.post("/enrol")
async def enrol(
    body: TotpEnrolRequest, ctx: AuthContextDep, principal: CurrentAdmin, response: Response
) -> TotpEnrolment:
    enrolment = await second_factor.enrol(ctx=ctx, principal=principal, password=body.password)
    response.headers["Cache-Control"] = "no-store"
    return TotpEnrolment(otpauth_uri=enrolment.otpauth_uri, secret=enrolment.secret)


@router.post("/confirm", status_code=status.HTTP_204_NO_CONTENT)
async def confirm(body: TotpConfirm, ctx: AuthContextDep, principal: CurrentAdmin) -> None:
    await second_factor.confirm(ctx=ctx, principal=principal, code=body.code)


@router.post("/disable", status_code=status.HTTP_204_NO_CONTENT)
async def disable(body: TotpDisable, ctx: AuthContextDep, principal: CurrentAdmin) -> None:
    await second_factor.disable(
        ctx=ctx, principal=principal, password=body.password, code=body.code
    )
