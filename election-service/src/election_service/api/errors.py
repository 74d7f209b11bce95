"""Domain errors → problem+json (RFC 9457)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from sqlalchemy.exc import IntegrityError
from starlette.responses import JSONResponse

from election_service.csv_roll import RollFileError
from election_service.errors import (
    Conflict,
    ElectionError,
    Forbidden,
    InvalidInput,
    NotEditable,
    NotFound,
    TransitionRefused,
)
from securevote.errors import problem_response
from securevote.logging import get_logger

log = get_logger(__name__)


async def _on_election_error(request: Request, exc: Exception) -> JSONResponse:
    detail = str(exc)
    if isinstance(exc, NotFound):
        return problem_response(request, status=404, detail=detail)
    if isinstance(exc, Forbidden):
        return problem_response(request, status=403, title="Forbidden", detail=detail)
    if isinstance(exc, NotEditable):
        return problem_response(
            request, status=409, title="Election not editable", detail=detail, state=exc.state
        )
    if isinstance(exc, TransitionRefused):
        return problem_response(
            request,
            status=409,
            title="Transition refused",
            detail=detail,
            state=exc.state,
            missing=exc.missing,
        )
    if isinstance(exc, Conflict):
        return problem_response(request, status=409, detail=detail)
    if isinstance(exc, InvalidInput):
        return problem_response(
            request, status=422, title="Invalid request", detail=detail, errors=exc.errors
        )
    return problem_response(request, status=400, detail=detail)


async def _on_roll_file_error(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, status=422, title="Unreadable voter roll", detail=str(exc))


async def _on_integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # A concurrent change won a unique constraint; the message (SQL) is never shown.
    log.info("integrity_conflict", error_type=type(exc).__name__)
    return problem_response(
        request,
        status=409,
        detail="The change conflicts with a concurrent change; reload and retry.",
    )


def install_election_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ElectionError, _on_election_error)
    app.add_exception_handler(RollFileError, _on_roll_file_error)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
