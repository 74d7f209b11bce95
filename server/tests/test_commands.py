"""The server commands as an operator runs them: real processes on loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from securevote import migrations
from securevote.config import Settings
from securevote_server.allinone import API_PREFIXES

SECUREVOTE = [sys.executable, "-m", "securevote.cli"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREVOTE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        SECUREVOTE_MODE="test", TEST_MODE="true", SECUREVOTE_DATABASE_URL=settings.database_url
    )
    if settings.database_schema:
        env["SECUREVOTE_DATABASE_SCHEMA"] = settings.database_schema
    return env


@contextmanager
def _running(args: list[str], env: dict[str, str], port: int, cwd: Path) -> Iterator[str]:
    process = subprocess.Popen(
        [*SECUREVOTE, *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    raise AssertionError(f"server did not start:\n{output}") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_up_migrates_and_serves_every_service(empty_settings: Settings, tmp_path: Path) -> None:
    port = _free_port()
    with _running(
        ["up", "--port", str(port)], _environment(empty_settings), port, tmp_path
    ) as base:
        assert httpx.get(f"{base}/ready").status_code == 200
        for name, prefix in API_PREFIXES.items():
            assert httpx.get(f"{base}{prefix}/health").json()["service"] == name
            assert httpx.get(f"{base}{prefix}/ready").status_code == 200
        metrics = httpx.get(f"{base}/metrics").text
    assert 'route="/api/auth/health",service="auth",status="200"' in metrics


def test_serve_runs_one_service_alone(settings: Settings, tmp_path: Path) -> None:
    port = _free_port()
    args = ["serve", "voting", "--host", "127.0.0.1", "--port", str(port)]
    with _running(args, _environment(settings), port, tmp_path) as base:
        assert httpx.get(f"{base}/api/ballots/health").json() == {
            "status": "ok",
            "service": "voting",
        }
        assert httpx.get(f"{base}/api/ballots/ready").status_code == 200
        # Other services' prefixes are not served by this process.
        assert httpx.get(f"{base}/api/auth/health").status_code == 404


def test_migrate_brings_an_empty_database_to_head(empty_settings: Settings, tmp_path: Path) -> None:
    result = subprocess.run(
        [*SECUREVOTE, "migrate"],
        env=_environment(empty_settings),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"database at revision {migrations.head_revision(empty_settings)}" in result.stdout


def test_prod_mode_without_secrets_refuses_to_start(
    empty_settings: Settings, tmp_path: Path
) -> None:
    env = _environment(empty_settings) | {"SECUREVOTE_MODE": "prod", "TEST_MODE": "false"}
    result = subprocess.run(
        [*SECUREVOTE, "serve", "auth", "--port", str(_free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "refusing to start in prod mode" in result.stderr
