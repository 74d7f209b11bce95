"""Dependency aliases of the auth service; the shared ones are re-exported from here."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from auth_service.context import AuthContext
from securevote.client_address import client_address
from securevote.config import Settings
from securevote.deps import CurrentAdmin, CurrentPrincipal, SettingsDep


# ``async def`` although neither awaits: FastAPI runs a plain ``def`` dependency in its
# thread pool, a thread hand-off per request for a cheap read.
async def get_context(request: Request) -> AuthContext:
    context: AuthContext = request.app.state.auth
    return context


async def get_client_address(request: Request) -> str:
    """The client's address, the key of the login and redemption rate limits: the peer, or
    what a trusted proxy forwarded (:mod:`securevote.client_address`)."""
    settings: Settings = request.app.state.settings
    return client_address(request, settings.trusted_proxies)


AuthContextDep = Annotated[AuthContext, Depends(get_context)]
ClientAddress = Annotated[str, Depends(get_client_address)]

__all__ = [
    "AuthContextDep",
    "ClientAddress",
    "CurrentAdmin",
    "CurrentPrincipal",
    "SettingsDep",
]
