"""The frontend service's application: server-rendered pages at ``/`` (see DESIGN §3)."""

from __future__ import annotations

from fastapi import FastAPI

from frontend_service.pages import router as pages_router
from securevote.config import Settings, load_settings
from securevote.db import Database
from securevote.webapp import create_service_app

NAME = "frontend"
PREFIX = ""


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    return create_service_app(
        name=NAME,
        prefix=PREFIX,
        settings=settings or load_settings(),
        database=database,
        routers=[pages_router],
        title="secure-vote frontend",
    )
