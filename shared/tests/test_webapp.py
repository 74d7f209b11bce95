"""What every service app shares: health, readiness, metrics, problem+json, limits, logs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from securevote import migrations
from securevote.config import Settings
from securevote.errors import Problem
from securevote.webapp import create_service_app

PROBLEM = "application/problem+json"
SECRET = "tok_3f9a1c77e2b54d0c9a0f"


class Vote(BaseModel):
    count: int


def _routes() -> APIRouter:
    router = APIRouter(prefix="/api/sample")

    @router.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    @router.post("/votes")
    def vote(body: Vote) -> dict[str, int]:
        return {"count": body.count}

    @router.get("/conflict")
    def conflict() -> None:
        raise Problem(409, "The election is already open.", title="Conflict", state="open")

    @router.get("/crash")
    def crash() -> None:
        raise RuntimeError(f"SELECT * FROM voters WHERE token = '{SECRET}'")

    return router


def _app(settings: Settings) -> FastAPI:
    return create_service_app(
        name="sample",
        prefix="/api/sample",
        settings=settings,
        database=None,
        routers=[_routes()],
        title="sample",
    )


def _log_lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


async def test_health_and_ready_at_the_root_and_under_the_prefix(
    settings: Settings, serve: Any
) -> None:
    async with serve(_app(settings)) as client:
        for path in ("/health", "/api/sample/health"):
            response = await client.get(path)
            assert response.status_code == 200
            assert response.json() == {"status": "ok", "service": "sample"}
        for path in ("/ready", "/api/sample/ready"):
            response = await client.get(path)
            assert response.status_code == 200
            assert response.json()["checks"] == {"database": "ok", "migrations": "ok"}


async def test_not_ready_while_the_schema_is_behind(empty_settings: Settings, serve: Any) -> None:
    async with serve(_app(empty_settings)) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["checks"]["database"] == "ok"
    assert "securevote migrate" in response.json()["checks"]["migrations"]
    assert migrations.head_revision(empty_settings) is not None


async def test_not_ready_when_the_database_is_unreachable(serve: Any) -> None:
    # Port 9 on loopback (discard) has no PostgreSQL: the connection is refused at once.
    unreachable = Settings(
        mode="test", test_mode=True, database_url="postgresql+asyncpg://nobody@127.0.0.1:9/none"
    )
    async with serve(_app(unreachable)) as client:
        response = await client.get("/api/sample/ready")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "unreachable", "migrations": "unknown"}


async def test_metrics_count_requests_by_route_template_and_status(
    settings: Settings, serve: Any
) -> None:
    async with serve(_app(settings)) as client:
        await client.get("/api/sample/items/41")
        await client.get("/api/sample/items/42")
        await client.get("/api/sample/no-such-thing")
        body = (await client.get("/metrics")).text
    assert (
        'securevote_http_requests_total{method="GET",route="/api/sample/items/{item_id}",'
        'service="sample",status="200"}'
    ) in body
    assert 'route="unmatched",service="sample",status="404"' in body
    assert 'securevote_http_request_duration_seconds_bucket{le="0.001",method="GET",' in body
    assert "/items/41" not in body


async def test_errors_are_problem_json(settings: Settings, serve: Any) -> None:
    async with serve(_app(settings)) as client:
        missing = await client.get("/api/sample/nothing-here")
        wrong_method = await client.delete("/api/sample/votes")
        conflict = await client.get("/api/sample/conflict")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert missing.json()["title"] == "Not Found"
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == PROBLEM
    assert conflict.status_code == 409
    assert conflict.json() == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": "The election is already open.",
        "request_id": conflict.headers["x-request-id"],
        "state": "open",
    }


async def test_validation_errors_say_where_but_never_echo_the_input(
    settings: Settings, serve: Any
) -> None:
    async with serve(_app(settings)) as client:
        response = await client.post("/api/sample/votes", json={"count": SECRET})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["location"] == ["body", "count"]
    assert SECRET not in response.text


async def test_a_crash_reveals_nothing_to_the_client_and_nothing_secret_to_the_log(
    settings: Settings, serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from securevote.logging import configure_logging

    configure_logging("INFO")
    async with serve(_app(settings)) as client:
        response = await client.get("/api/sample/crash", headers={"x-request-id": "req-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "request_id": "req-1",
    }
    assert "SELECT" not in response.text
    out = capsys.readouterr().out
    errors = [line for line in _log_lines(out) if line["event"] == "unhandled_error"]
    assert errors[0]["request_id"] == "req-1"
    assert errors[0]["error_type"] == "builtins.RuntimeError"
    assert "in crash" in errors[0]["stack"]
    assert SECRET not in out


async def test_an_oversized_body_is_refused_before_parsing(settings: Settings, serve: Any) -> None:
    limited = settings.model_copy(update={"max_request_bytes": 1024})
    async with serve(_app(limited)) as client:
        declared = await client.post(
            "/api/sample/votes",
            content=b"{" + b" " * 4096 + b"}",
            headers={"content-type": "application/json"},
        )

        async def stream() -> Any:
            for _ in range(8):
                yield b" " * 512

        streamed = await client.post(
            "/api/sample/votes", content=stream(), headers={"content-type": "application/json"}
        )
        small = await client.post("/api/sample/votes", json={"count": 3})
    assert declared.status_code == 413
    assert declared.headers["content-type"] == PROBLEM
    assert streamed.status_code == 413
    assert small.json() == {"count": 3}


async def test_request_ids_are_echoed_or_made(settings: Settings, serve: Any) -> None:
    async with serve(_app(settings)) as client:
        given = await client.get("/health", headers={"x-request-id": "abc-123"})
        bad = await client.get("/health", headers={"x-request-id": "no spaces allowed!"})
        none = await client.get("/health")
    assert given.headers["x-request-id"] == "abc-123"
    assert bad.headers["x-request-id"] != "no spaces allowed!"
    assert len(none.headers["x-request-id"]) == 32


async def test_access_log_is_json_with_the_route_template_never_the_raw_path(
    settings: Settings, serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from securevote.logging import configure_logging

    configure_logging("INFO")
    async with serve(_app(settings)) as client:
        await client.get(f"/api/sample/items/7?token={SECRET}")
    lines = [line for line in _log_lines(capsys.readouterr().out) if line["event"] == "request"]
    assert lines[-1]["route"] == "/api/sample/items/{item_id}"
    assert lines[-1]["status"] == 200
    assert lines[-1]["request_id"]
    assert SECRET not in json.dumps(lines)


async def test_upload_paths_take_larger_bodies_than_the_rest(
    settings: Settings, serve: Any
) -> None:
    router = APIRouter(prefix="/api/sample")

    @router.post("/files/{name}/upload")
    async def upload(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    limited = settings.model_copy(update={"max_request_bytes": 1024, "max_upload_bytes": 8192})
    app = create_service_app(
        name="sample",
        prefix="/api/sample",
        settings=limited,
        database=None,
        routers=[router, _routes()],
        title="sample",
        upload_paths=[r"/api/sample/files/[^/]+/upload"],
    )
    async with serve(app) as client:
        upload_ok = await client.post("/api/sample/files/a/upload", content=b"x" * 4096)
        upload_too_big = await client.post("/api/sample/files/a/upload", content=b"x" * 9000)
        other = await client.post("/api/sample/votes", content=b"x" * 4096)
    assert upload_ok.json() == {"bytes": 4096}
    assert upload_too_big.status_code == 413
    assert other.status_code == 413
