"""The auth service's application: `create_app(settings)` builds it (see DESIGN §3)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from auth_service import metrics
from auth_service.api import problems
from auth_service.api.routes import accounts, session, totp, voter, voter_admin
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
        routers=[
            session.router,
            accounts.router,
            totp.router,
            voter.router,
            voter_admin.router,
        ],
        title="secure-vote auth service",
    )
    context = AuthContext.build(settings=settings, database=app.state.database, policy=policy)
    app.state.auth = context
    problems.install(app)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        async with inner(application) as state:
            watcher = asyncio.create_task(metrics.watch_outbox_depth(context.database))
            try:
                yield state
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
                await context.aclose()  # Redis connections of the rate limits

    app.router.lifespan_context = lifespan
    return app
