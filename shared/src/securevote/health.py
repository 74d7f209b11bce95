"""Liveness (``/health``) and readiness (``/ready``: database reachable, schema at head).

A service that is not ready answers 503 and names the failing check, so a load balancer
keeps traffic away from a process that runs against an old schema or a missing database.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from securevote.db import Database
from securevote.errors import problem_response
from securevote.logging import get_logger
from securevote.migrations import current_revision

log = get_logger(__name__)


async def readiness(database: Database, expected_head: str | None) -> dict[str, str]:
    """Each check's state; every value is "ok" when the service can take traffic."""
    checks = {"database": "ok", "migrations": "ok"}
    try:
        await database.ping()
    except Exception as exc:
        log.warning("ready_check_failed", check="database", error_type=type(exc).__name__)
        checks["database"] = "unreachable"
        checks["migrations"] = "unknown"
        return checks
    if expected_head is None:
        checks["migrations"] = "migration history not found"
        return checks
    current = await current_revision(database)
    if current != expected_head:
        checks["migrations"] = "schema is not at the head revision; run `securevote migrate`"
    return checks


def health_router(prefix: str = "") -> APIRouter:
    """``{prefix}/health`` and ``{prefix}/ready`` for the service in ``request.app``."""
    # The root pair is the process's, not the service's API: kept out of its OpenAPI document.
    router = APIRouter(prefix=prefix, tags=["operations"], include_in_schema=bool(prefix))

    @router.get("/health", summary="The process is alive")
    def health(request: Request) -> dict[str, Any]:
        return {"status": "ok", "service": request.app.state.service_name}

    @router.get("/ready", summary="The service can take traffic", response_model=None)
    async def ready(request: Request) -> dict[str, Any] | JSONResponse:
        state = request.app.state
        checks = await readiness(state.database, state.schema_head)
        if all(value == "ok" for value in checks.values()):
            return {"status": "ready", "service": state.service_name, "checks": checks}
        return problem_response(
            request,
            status=503,
            title="Not ready",
            detail="A readiness check failed.",
            checks=checks,
        )

    return router
