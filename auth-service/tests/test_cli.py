"""`securevote admin create` as an operator runs it: a real process on the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from auth_service.app import create_app
from securevote.config import Settings

SECUREVOTE = [sys.executable, "-m", "securevote.cli"]
OWNER_PASSWORD = "the operator's long passphrase"


def _environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREVOTE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        SECUREVOTE_MODE="test", TEST_MODE="true", SECUREVOTE_DATABASE_URL=settings.database_url
    )
    if settings.database_schema:
        env["SECUREVOTE_DATABASE_SCHEMA"] = settings.database_schema
    return env


def _admin_create(settings: Settings, cwd: Path, *args: str, stdin: str) -> Any:
    return subprocess.run(
        [*SECUREVOTE, "admin", "create", *args],
        env=_environment(settings),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_admin_create_makes_an_owner_who_can_log_in(
    settings: Settings, tmp_path: Path, serve: Any
) -> None:
    args = ("--organisation", "Acme Union", "--email", "Owner@Example.org", "--password-stdin")
    result = _admin_create(settings, tmp_path, *args, stdin=OWNER_PASSWORD + "\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "new organisation 'Acme Union'" in result.stdout
    assert OWNER_PASSWORD not in result.stdout + result.stderr

    async with serve(create_app(settings)) as client:
        response = await client.post(
            "/api/auth/login", json={"email": "owner@example.org", "password": OWNER_PASSWORD}
        )
        assert response.status_code == 200
        me = await client.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
        )
    assert me.json()["account"]["role"] == "owner"
    assert me.json()["organisation"]["name"] == "Acme Union"

    # The same address again is refused; a second owner joins the existing organisation.
    again = _admin_create(settings, tmp_path, *args, stdin=OWNER_PASSWORD + "\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    second = _admin_create(
        settings,
        tmp_path,
        "--organisation",
        "ACME UNION",
        "--email",
        "second@example.org",
        "--password-stdin",
        stdin=OWNER_PASSWORD + "\n",
    )
    assert second.returncode == 0 and "existing organisation" in second.stdout


async def test_admin_create_refuses_bad_input_without_echoing_it(
    settings: Settings, tmp_path: Path
) -> None:
    short = _admin_create(
        settings,
        tmp_path,
        "--organisation",
        "Acme",
        "--email",
        "owner@example.org",
        "--password-stdin",
        stdin="tooShort1\n",
    )
    assert short.returncode == 2
    assert "password" in short.stderr and "tooShort1" not in short.stderr + short.stdout
    # There is no way to pass the password as an argument.
    as_argument = _admin_create(
        settings,
        tmp_path,
        "--organisation",
        "Acme",
        "--email",
        "o@example.org",
        "--password",
        OWNER_PASSWORD,
        stdin="",
    )
    assert as_argument.returncode == 2
    no_terminal = _admin_create(
        settings, tmp_path, "--organisation", "Acme", "--email", "o@example.org", stdin=""
    )
    assert no_terminal.returncode == 2 and "--password-stdin" in no_terminal.stderr
