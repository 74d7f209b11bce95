"""How the domain's refusals answer over HTTP (problem+json, RFC 9457)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse

from auth_service import errors
from auth_service.ratelimit import retry_after_header
from securevote.errors import problem_response

# error class -> (status, title, machine-readable code)
_ANSWERS: dict[type[errors.AuthServiceError], tuple[int, str, str]] = {
    errors.InvalidCredentials: (401, "Login failed", "invalid_credentials"),
    errors.SecondFactorRequired: (401, "Second factor required", "totp_required"),
    errors.InvalidSecondFactor: (401, "Login failed", "totp_invalid"),
    errors.InvalidRefreshToken: (401, "Unauthorized", "invalid_refresh_token"),
    errors.AccountInactive: (401, "Unauthorized", "account_inactive"),
    errors.ConfirmationFailed: (400, "Confirmation failed", "confirmation_failed"),
    errors.NotAllowed: (403, "Forbidden", "forbidden"),
    errors.NotFound: (404, "Not Found", "not_found"),
    errors.Conflict: (409, "Conflict", "conflict"),
    errors.TooManyAttempts: (429, "Too Many Requests", "too_many_attempts"),
    errors.InvalidVoterToken: (401, "Unauthorized", "invalid_voter_token"),
    errors.RollSecretRequired: (401, "Unauthorized", "roll_secret_required"),
    errors.ElectionNotOpen: (409, "Conflict", "election_not_open"),
}


async def _on_auth_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.AuthServiceError)
    status, title, code = _ANSWERS.get(type(exc), (400, "Bad Request", "bad_request"))
    headers: dict[str, str] = {}
    detail = str(exc)
    if isinstance(exc, errors.TooManyAttempts):
        headers["Retry-After"] = retry_after_header(exc.retry_after)
        detail = "Too many attempts. Try again later."
    elif status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return problem_response(
        request, status=status, title=title, detail=detail, headers=headers, code=code
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.AuthServiceError, _on_auth_error)
