"""The results service's application: `create_app(settings)` builds it (see DESIGN §3)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from results_service import metrics
from results_service.api.routes import results
from securevote.config import Settings, load_settings
from securevote.db import Database
from securevote.webapp import create_service_app

NAME = "results"
PREFIX = "/api/results"


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    app = create_service_app(
        name=NAME,
        prefix=PREFIX,
        settings=settings or load_settings(),
        database=database,
        routers=[results.router],
        title="secure-vote results service",
    )
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        async with inner(application) as state:
            watcher = asyncio.create_task(metrics.watch_failed_tallies(app.state.database))
            try:
                yield state
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher

    app.router.lifespan_context = lifespan
    return app
