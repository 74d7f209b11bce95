"""Every error answers ``application/problem+json`` (RFC 9457).

Services raise :class:`Problem` for anything the client should know about. Anything else is
a bug: it is logged on the server with the request id, and the client gets a plain 500 with
that request id and nothing more (no stack trace, no SQL, no input values).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from securevote.logging import get_logger

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = get_logger(__name__)


class Problem(Exception):
    """A client-facing error. ``detail`` must never contain a secret or ballot content."""

    def __init__(
        self,
        status: int,
        detail: str = "",
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title or HTTPStatus(status).phrase)
        self.status = status
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.type = type_
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(
    request: Request,
    *,
    status: int,
    title: str | None = None,
    detail: str = "",
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(
        request,
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        type_=exc.type,
        headers=exc.headers,
        **exc.extensions,
    )


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) and exc.status_code != 500 else ""
    if detail == HTTPStatus(exc.status_code).phrase:
        detail = ""
    return problem_response(
        request, status=exc.status_code, detail=detail, headers=dict(exc.headers or {})
    )


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only where and what: pydantic also reports the offending input, which may be a secret.
    errors = [
        {"location": [str(part) for part in error.get("loc", ())], "message": error.get("msg", "")}
        for error in exc.errors()
    ]
    return problem_response(
        request,
        status=422,
        title="Invalid request",
        detail="The request does not match the expected shape.",
        errors=errors,
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The logging setup renders the type and stack only, never the message.
    log.error(
        "unhandled_error", request_id=getattr(request.state, "request_id", None), exc_info=exc
    )
    return problem_response(request, status=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(HTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)
