"""The signed-in organiser's own account: the TOTP second factor (enable, confirm, disable).

The auth service does the work (``/api/auth/totp/enrol|confirm|disable``, each needing the
password or a code). The new secret is shown once, on the page answering the enrolment POST
(``Cache-Control: no-store`` like every page): the otpauth URI to paste into an
authenticator app and the secret to type in by hand. No QR code: drawing one would need a
new dependency, and a third-party service would see the secret. Login asks for codes only
once a first code has confirmed the enrolment.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from frontend_service.admin import LoginRequired, Token, optional, page, redirect
from frontend_service.backend import ApiError, call
from frontend_service.errors import PageError
from frontend_service.security import require_csrf

router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(require_csrf)])
DONE = {
    "totp-on": "Two-step sign-in is on: from now on, signing in asks for a code.",
    "totp-off": "Two-step sign-in is off.",
}
Password = Annotated[str, Form(min_length=1, max_length=1024)]
Code = Annotated[str, Form(max_length=12)]


async def _account_page(
    request: Request,
    token: str,
    *,
    enrolment: dict[str, Any] | None = None,
    error: str | None = None,
    done: str = "",
    status: int = 200,
) -> Response:
    me = await optional(request, "auth", "/api/auth/me", token)
    if me is None:
        raise PageError(503, "Your account cannot be read right now.")
    return page(
        request,
        "admin/account.html",
        {
            "title": "Your account",
            "me": me,
            "enrolment": enrolment,
            "error": error,
            "done": DONE.get(done),
        },
        status=status,
    )


def _code(value: str) -> str:
    return "".join(value.split())


def _refusal(error: ApiError) -> tuple[str, int]:
    if error.status == 401:
        raise LoginRequired
    messages = {
        400: "The password or the code is wrong.",
        409: error.message,
        422: "Enter the six-digit code from your authenticator app.",
        429: "Too many attempts. Wait a few minutes, then try again.",
    }
    return messages.get(error.status, error.message), error.status if error.status < 500 else 503


@router.get("/account")
async def account(request: Request, token: Token, done: str = "") -> Response:
    return await _account_page(request, token, done=done)


@router.post("/account/totp/enrol")
async def enrol(request: Request, token: Token, password: Password) -> Response:
    try:
        enrolment = await call(
            request,
            "auth",
            "POST",
            "/api/auth/totp/enrol",
            token=token,
            json={"password": password},
        )
    except ApiError as error:
        message, status = _refusal(error)
        return await _account_page(request, token, error=message, status=status)
    return await _account_page(request, token, enrolment=enrolment)


@router.post("/account/totp/confirm")
async def confirm(request: Request, token: Token, code: Code) -> Response:
    try:
        await call(
            request,
            "auth",
            "POST",
            "/api/auth/totp/confirm",
            token=token,
            json={"code": _code(code)},
        )
    except ApiError as error:
        message, status = _refusal(error)
        if error.status == 400:
            message = "That code is wrong. Check the clock of your device, then start again."
        return await _account_page(request, token, error=message, status=status)
    return redirect(request, "/admin/account?done=totp-on")


@router.post("/account/totp/disable")
async def disable(request: Request, token: Token, password: Password, code: Code) -> Response:
    body = {"password": password, "code": _code(code)}
    try:
        await call(request, "auth", "POST", "/api/auth/totp/disable", token=token, json=body)
    except ApiError as error:
        message, status = _refusal(error)
        return await _account_page(request, token, error=message, status=status)
    return redirect(request, "/admin/account?done=totp-off")
