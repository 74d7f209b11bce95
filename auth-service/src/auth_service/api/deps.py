"""Dependency aliases of the auth service; the shared ones are re-exported from here."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from auth_service.context import AuthContext
from securevote.deps import CurrentAdmin, CurrentPrincipal, SettingsDep


def get_context(request: Request) -> AuthContext:
    context: AuthContext = request.app.state.auth
    return context


def get_client_address(request: Request) -> str:
    """The client's address (behind a proxy, uvicorn's proxy_headers has already applied
    X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else "unknown"


AuthContextDep = Annotated[AuthContext, Depends(get_context)]
ClientAddress = Annotated[str, Depends(get_client_address)]

__all__ = [
    "AuthContextDep",
    "ClientAddress",
    "CurrentAdmin",
    "CurrentPrincipal",
    "SettingsDep",
]
