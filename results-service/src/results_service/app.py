"""The results service's application: `create_app(settings)` builds it (see DESIGN §3)."""

from __future__ import annotations

from fastapi import FastAPI

from results_service.api.routes import results
from securevote.config import Settings, load_settings
from securevote.db import Database
from securevote.webapp import create_service_app

NAME = "results"
PREFIX = "/api/results"


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    return create_service_app(
        name=NAME,
        prefix=PREFIX,
        settings=settings or load_settings(),
        database=database,
        routers=[results.router],
        title="secure-vote results service",
    )
