"""The all-in-one process: the five service apps behind one ASGI dispatcher.

Each service app keeps its own routes, middleware and metrics label; the dispatcher only
picks the app by path prefix (the same prefixes the Kubernetes ingress routes), and runs
every app's lifespan. The frontend, at ``/``, also answers the root ``/health``, ``/ready``
and ``/metrics`` for the whole process. Every installed background job runs as a task.
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AsyncExitStack

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from auth_service.app import create_app as create_auth_app
from election_service.app import create_app as create_election_app
from frontend_service.app import create_app as create_frontend_app
from results_service.app import create_app as create_results_app
from securevote.clients import register_peers
from securevote.config import Settings
from securevote.db import Database
from securevote.jobs import installed_jobs, run_forever
from voting_service.app import create_app as create_voting_app

SERVICE_FACTORIES = {
    "auth": create_auth_app,
    "election": create_election_app,
    "voting": create_voting_app,
    "results": create_results_app,
    "frontend": create_frontend_app,
}
API_PREFIXES = {
    "auth": "/api/auth",
    "election": "/api/elections",
    "voting": "/api/ballots",
    "results": "/api/results",
}


class AllInOne:
    """ASGI app dispatching by path prefix to the service apps; owns the shared database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = Database(settings)
        self.apps: dict[str, FastAPI] = {
            name: factory(settings, database=self.database)
            for name, factory in SERVICE_FACTORIES.items()
        }
        register_peers(self.apps)
        self.routes = [(prefix, self.apps[name]) for name, prefix in API_PREFIXES.items()]
        self.default = self.apps["frontend"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope.get("path", "")
        for prefix, app in self.routes:
            if path == prefix or path.startswith(prefix + "/"):
                await app(scope, receive, send)
                return
        await self.default(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        async with AsyncExitStack() as stack:
            await receive()  # lifespan.startup
            try:
                for app in self.apps.values():
                    await stack.enter_async_context(app.router.lifespan_context(app))
            except Exception as exc:  # report, as the ASGI lifespan protocol asks
                await send({"type": "lifespan.startup.failed", "message": type(exc).__name__})
                raise
            stack.push_async_callback(self.database.dispose)
            for job in installed_jobs().values():
                task = asyncio.create_task(run_forever(job, self.database, self.settings))
                stack.push_async_callback(_cancel, task)
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_all_in_one(settings: Settings) -> AllInOne:
    return AllInOne(settings)
