"""The auth service's application: `create_app(settings)` builds it (see DESIGN §3)."""

from __future__ import annotations

from fastapi import FastAPI

from auth_service.api import problems
from auth_service.api.routes import accounts, session, totp
from auth_service.context import AuthContext
from auth_service.policy import AuthPolicy
from securevote.config import Settings, load_settings
from securevote.db import Database
from securevote.webapp import create_service_app

NAME = "auth"
PREFIX = "/api/auth"


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    policy: AuthPolicy | None = None,
) -> FastAPI:
    settings = settings or load_settings()
    app = create_service_app(
        name=NAME,
        prefix=PREFIX,
        settings=settings,
        database=database,
        routers=[session.router, accounts.router, totp.router],
        title="secure-vote auth service",
    )
    app.state.auth = AuthContext.build(
        settings=settings, database=app.state.database, policy=policy
    )
    problems.install(app)
    return app
