"""The server commands as an operator runs them: real processes on loopback ports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from securevote import migrations
from securevote.config import Settings
from securevote_server.allinone import API_PREFIXES


def test_up_migrates_and_serves_every_service(
    empty_settings: Settings, tmp_path: Path, securevote_cli: Any
) -> None:
    env = securevote_cli.environment(empty_settings)
    with securevote_cli.server(["up"], env, tmp_path) as base:
        assert httpx.get(f"{base}/ready").status_code == 200
        for name, prefix in API_PREFIXES.items():
            assert httpx.get(f"{base}{prefix}/health").json()["service"] == name
            assert httpx.get(f"{base}{prefix}/ready").status_code == 200
        metrics = httpx.get(f"{base}/metrics").text
    assert 'route="/api/auth/health",service="auth",status="200"' in metrics


def test_serve_runs_one_service_alone(
    settings: Settings, tmp_path: Path, securevote_cli: Any
) -> None:
    env = securevote_cli.environment(settings)
    with securevote_cli.server(["serve", "voting"], env, tmp_path) as base:
        assert httpx.get(f"{base}/api/ballots/health").json() == {
            "status": "ok",
            "service": "voting",
        }
        assert httpx.get(f"{base}/api/ballots/ready").status_code == 200
        # Other services' prefixes are not served by this process.
        assert httpx.get(f"{base}/api/auth/health").status_code == 404


def test_migrate_brings_an_empty_database_to_head(
    empty_settings: Settings, tmp_path: Path, securevote_cli: Any
) -> None:
    result = securevote_cli.run(["migrate"], securevote_cli.environment(empty_settings), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"database at revision {migrations.head_revision(empty_settings)}" in result.stdout


def test_prod_mode_without_secrets_refuses_to_start(
    empty_settings: Settings, tmp_path: Path, securevote_cli: Any
) -> None:
    env = securevote_cli.environment(empty_settings, SECUREVOTE_MODE="prod", TEST_MODE="false")
    result = securevote_cli.run(
        ["serve", "auth", "--port", str(securevote_cli.free_port())], env, tmp_path, timeout=60
    )
    assert result.returncode == 2
    assert "refusing to start in prod mode" in result.stderr
