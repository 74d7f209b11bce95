"""Public pages (election, bulletin board, results, record, check my ballot) and the voter
booth. Jinja2 autoescapes every value; data reaches page scripts only through ``data-``
attributes or same-origin API calls, never through inline script."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from frontend_service.backend import ApiError, call
from frontend_service.errors import PageError
from frontend_service.rendering import render
from frontend_service.security import require_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
BOARD_PAGE = 50


def _election_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise PageError(404, "There is no election with this id.", title="Not found") from None


def rule_in_words(minimum: int, maximum: int, options: int) -> str:
    """The selection rule of a question, as a voter reads it."""
    if minimum == maximum:
        if minimum == 1:
            return "Choose exactly one option."
        return f"Choose exactly {minimum} options."
    if minimum == 0 and maximum >= options:
        return "Choose any number of options, or none."
    if minimum == 0:
        return "Choose at most one option." if maximum == 1 else f"Choose up to {maximum} options."
    return f"Choose between {minimum} and {maximum} options."


async def _context(request: Request, election_id: str) -> dict[str, Any] | None:
    """The election's public context from the ballot box, or None when it has none yet
    (a draft, or another organisation's secret)."""
    try:
        result = await call(
            request, "voting", "GET", f"/api/ballots/elections/{election_id}/context"
        )
    except ApiError as error:
        if error.status in (404, 409, 422):
            return None
        raise PageError(error.status if error.status >= 500 else 502, error.message) from None
    return result if isinstance(result, dict) else None


@router.get("/")
async def home(request: Request) -> Response:
    return render(request, "home.html", {"title": ""})


@router.get("/favicon.ico")
async def favicon() -> Response:
    return Response(status_code=204)


@router.get("/elections")
async def find_election(id: Annotated[str, Query(max_length=64)] = "") -> Response:
    if not _UUID.match(id.strip()):
        raise PageError(404, "That is not an election id.", title="Not found")
    return RedirectResponse(f"/elections/{id.strip().lower()}", status_code=303)


@router.get("/elections/{election_id}")
async def election_page(request: Request, election_id: str) -> Response:
    election_id = _election_id(election_id)
    context = await _context(request, election_id)
    if context is None:
        raise PageError(
            404,
            "This election is not published yet, or does not exist.",
            title="Election not found",
        )
    manifest = context["manifest"]
    questions = [
        {
            **q,
            "rule": rule_in_words(q["min_selections"], q["max_selections"], len(q["options"])),
        }
        for q in manifest["questions"]
    ]
    return render(
        request,
        "election.html",
        {
            "title": manifest["title"],
            "election_id": election_id,
            "context": context,
            "questions": questions,
        },
    )


@router.get("/elections/{election_id}/board")
async def board_page(
    request: Request,
    election_id: str,
    after: Annotated[int, Query(ge=-1, le=2**53)] = -1,
) -> Response:
    election_id = _election_id(election_id)
    context = await _context(request, election_id)
    if context is None:
        raise PageError(404, "This election has no bulletin board yet.", title="Not found")
    base = f"/api/ballots/elections/{election_id}/board"
    try:
        page = await call(
            request,
            "voting",
            "GET",
            f"{base}/ballots",
            params={"after": after, "limit": BOARD_PAGE},
        )
        latest = await call(request, "voting", "GET", f"{base}/heads/latest")
        spoiled = await call(
            request, "voting", "GET", f"{base}/spoiled", params={"limit": BOARD_PAGE}
        )
    except ApiError as error:
        raise PageError(502, error.message) from None
    return render(
        request,
        "board.html",
        {
            "title": f"Bulletin board: {context['manifest']['title']}",
            "election_id": election_id,
            "context": context,
            "entries": page["entries"],
            "next_after": page.get("next_after"),
            "after": after,
            "head": latest["head"],
            "final": latest.get("final", False),
            "spoiled": spoiled["spoiled"],
            "more_spoiled": spoiled.get("next_after") is not None,
        },
    )


async def _results(request: Request, election_id: str) -> dict[str, Any] | None:
    """The published results (None until an administrator publishes them)."""
    try:
        found = await call(
            request, "results", "GET", f"/api/results/elections/{election_id}/results"
        )
    except ApiError as error:
        if error.status in (404, 409):
            return None
        raise PageError(502, error.message) from None
    return found if isinstance(found, dict) else None


@router.get("/elections/{election_id}/results")
async def results_page(request: Request, election_id: str) -> Response:
    election_id = _election_id(election_id)
    context = await _context(request, election_id)
    if context is None:
        raise PageError(404, "This election is not published yet, or does not exist.")
    results = await _results(request, election_id)
    return render(
        request,
        "results.html",
        {
            "title": f"Results: {context['manifest']['title']}",
            "election_id": election_id,
            "context": context,
            "results": results,
        },
    )


@router.get("/elections/{election_id}/record")
async def record_download(request: Request, election_id: str) -> Response:
    """The election record comes straight from the results service (same origin)."""
    election_id = _election_id(election_id)
    return RedirectResponse(f"/api/results/elections/{election_id}/record", status_code=303)


@router.get("/elections/{election_id}/check")
async def check_page(request: Request, election_id: str) -> Response:
    election_id = _election_id(election_id)
    context = await _context(request, election_id)
    if context is None:
        raise PageError(404, "This election is not published yet, or does not exist.")
    return render(
        request,
        "check.html",
        {
            "title": f"Check my ballot: {context['manifest']['title']}",
            "election_id": election_id,
            "context": context,
        },
    )


@router.get("/vote")
async def booth(request: Request) -> Response:
    """The voting booth. The token arrives in the URL fragment (``/vote#token=…``), which
    browsers never send to a server; the page's script redeems it."""
    settings = request.app.state.settings
    return render(request, "vote.html", {"title": "Vote", "public_url": settings.public_url})
