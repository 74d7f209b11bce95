"""The election service's application: `create_app(settings)` builds it (see DESIGN §3)."""

from __future__ import annotations

from fastapi import FastAPI

from election_service.api.errors import install_election_error_handlers
from election_service.api.routes import (
    audit,
    ceremony,
    elections,
    lifecycle,
    observers,
    questions,
    voters,
)
from securevote.config import Settings, load_settings
from securevote.db import Database
from securevote.webapp import create_service_app

NAME = "election"
PREFIX = "/api/elections"


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    app = create_service_app(
        name=NAME,
        prefix=PREFIX,
        settings=settings or load_settings(),
        database=database,
        # The lifecycle and roll routes come before the generic /{election_id} ones only
        # for readability; their paths never collide.
        routers=[
            elections.router,
            questions.router,
            voters.router,
            lifecycle.router,
            ceremony.router,
            observers.router,
            audit.router,
        ],
        title="secure-vote election service",
        upload_paths=[rf"{PREFIX}/[^/]+/voters/import"],
    )
    install_election_error_handlers(app)
    return app
