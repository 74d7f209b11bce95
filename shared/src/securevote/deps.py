"""FastAPI dependencies every service shares; each service's ``api/deps.py`` re-exports
these and adds its own.

Dependencies that do no blocking work are ``async def``: FastAPI runs a plain ``def``
dependency in its thread pool, a thread hop per dependency per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from securevote.auth import (
    InvalidToken,
    Principal,
    PrincipalKind,
    principal_from_claims,
)
from securevote.config import Settings
from securevote.errors import Problem
from securevote.logging import get_logger

log = get_logger(__name__)
VOTER_SESSION_COOKIE = "sv_voter"


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    async with request.app.state.database.session() as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A read-only transaction, on the read replica when one is configured (public reads)."""
    async with request.app.state.database.read_session() as session:
        yield session


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return None


def _unauthorised() -> Problem:
    return Problem(
        401,
        "A valid access token is required.",
        title="Unauthorized",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def get_principal(request: Request) -> Principal:
    """The verified caller: a bearer token, or for the browser the voter session cookie."""
    token = _bearer_token(request) or request.cookies.get(VOTER_SESSION_COOKIE)
    if not token:
        raise _unauthorised()
    try:
        claims = request.app.state.token_verifier.verify(token)
        return principal_from_claims(claims)
    except InvalidToken as exc:
        log.info("token_refused", reason=str(exc))
        raise _unauthorised() from exc


async def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if principal.kind is not PrincipalKind.ADMIN:
        raise Problem(403, "This needs an administrator.", title="Forbidden")
    return principal


async def get_voter(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if principal.kind is not PrincipalKind.VOTER:
        raise Problem(403, "This needs a voter session.", title="Forbidden")
    return principal


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
CurrentAdmin = Annotated[Principal, Depends(get_admin)]
CurrentVoter = Annotated[Principal, Depends(get_voter)]
