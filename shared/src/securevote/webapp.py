"""What every service's ``create_app`` has in common, built in one place.

A service app serves its own routes under its prefix, ``{prefix}/health`` and
``{prefix}/ready``, and ``/health``, ``/ready`` and ``/metrics`` at the root, so the same URLs
work whether the five services run in one process or apart behind an ingress.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from securevote import __version__, metrics
from securevote.auth import verifier_from_settings
from securevote.config import ConfigurationError, Settings
from securevote.db import Database
from securevote.errors import install_error_handlers
from securevote.health import health_router
from securevote.logging import get_logger
from securevote.migrations import head_revision

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = get_logger("securevote.access")


class RequestContextMiddleware:
    """Request id, body size limit, access log and metrics for every HTTP request.

    A pure ASGI middleware (no per-request task or body buffering). The access log and the
    metrics name the matched route template (``/api/x/{id}``), never the raw path.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        max_body_bytes: int,
        upload_limits: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes
        # (path pattern, limit): uploads such as a voter roll may be larger than JSON bodies.
        self.upload_limits = [(re.compile(pattern), limit) for pattern, limit in upload_limits]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                limit = self._limit_for(scope.get("path", ""))
                await self.app(scope, self._limited(receive, headers, limit), send_with_id)
            finally:
                self._record(scope, status, time.perf_counter() - started)

    def _limit_for(self, path: str) -> int:
        for pattern, limit in self.upload_limits:
            if pattern.fullmatch(path):
                return limit
        return self.max_body_bytes

    def _limited(self, receive: Receive, headers: dict[bytes, bytes], limit: int) -> Receive:
        """A receive that raises as soon as the body is known to exceed the limit: at once
        for a declared Content-Length, or when a streamed body grows past it. Nothing of an
        oversized body is parsed."""
        declared = headers.get(b"content-length", b"0")
        oversized = not declared.isdigit() or int(declared) > limit
        seen = 0

        async def receive_limited() -> Message:
            nonlocal seen
            if oversized:
                raise _too_large()
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large()
            return message

        return receive_limited

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        template = _route_template(scope)
        method = scope.get("method", "")
        metrics.observe_request(
            service=self.service, method=method, route=template, status=status, seconds=seconds
        )
        log.info(
            "request",
            service=self.service,
            method=method,
            route=template,
            status=status,
            duration_ms=round(seconds * 1000, 2),
        )


def _route_template(scope: Scope) -> str:
    """The matched route's path template; FastAPI's own routes (the OpenAPI document) do not
    leave it in the scope, so those are looked up. "unmatched" when nothing matched."""
    route = scope.get("route")
    if route is not None:
        return str(route.path)
    app = scope.get("app")
    for candidate in getattr(app, "routes", ()):
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            return str(candidate.path)
    return "unmatched"


def _too_large() -> HTTPException:
    # An HTTPException raised while the body is read passes through FastAPI's body parsing
    # untouched, and the error handlers turn it into problem+json.
    return HTTPException(413, "The request body is larger than this endpoint accepts.")


def create_service_app(
    *,
    name: str,
    prefix: str,
    settings: Settings,
    database: Database | None,
    routers: Sequence[APIRouter] = (),
    title: str,
    upload_paths: Sequence[str] = (),
    on_shutdown: Sequence[Callable[[], None]] = (),
) -> FastAPI:
    """A FastAPI app for one service, with everything services share already installed.

    ``database`` is shared when several services run in one process; otherwise the app opens
    its own and closes it on shutdown. ``upload_paths`` (regular expressions) may take bodies up
    to ``max_upload_bytes`` instead of ``max_request_bytes``. ``on_shutdown`` callables run when
    the app stops (before its own database closes).
    """
    owns_database = database is None
    db = database or Database(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            app.state.schema_head = head_revision(settings)
        except ConfigurationError:
            app.state.schema_head = None
        try:
            yield
        finally:
            for stop in on_shutdown:
                stop()
            if owns_database:
                await db.dispose()

    app = FastAPI(
        title=title,
        version=__version__,
        lifespan=lifespan,
        openapi_url=f"{prefix}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.service_name = name
    app.state.settings = settings
    app.state.database = db
    app.state.schema_head = None
    app.state.token_verifier = verifier_from_settings(settings)
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    if prefix:
        app.include_router(health_router(prefix))
    app.include_router(health_router())
    app.include_router(metrics.router)
    app.add_middleware(
        RequestContextMiddleware,
        service=name,
        max_body_bytes=settings.max_request_bytes,
        upload_limits=[(path, settings.max_upload_bytes) for path in upload_paths],
    )
    return app
