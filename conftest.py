"""Test harness shared by every test folder.

Every test that uses the ``settings``/``database`` fixtures runs twice: on SQLite (a file in
the test's temporary folder) and on PostgreSQL (``TEST_DATABASE_URL``, default the local
server). Each test run creates a fresh PostgreSQL database and drops it at the end; each test
gets its own schema in it. If PostgreSQL cannot be reached those tests fail loudly: they are
never skipped.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url
from starlette.types import ASGIApp

from securevote import migrations
from securevote.config import Settings
from securevote.db import Database

DEFAULT_TEST_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    admin_url = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    name = f"securevote_test_{os.getpid()}_{secrets.token_hex(4)}"

    async def run(sql: str) -> None:
        try:
            connection = await asyncpg.connect(_asyncpg_dsn(admin_url), timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            raise RuntimeError(
                f"PostgreSQL is unreachable at TEST_DATABASE_URL ({make_url(admin_url)!r}): "
                f"{type(exc).__name__}. Start it (see README) - PostgreSQL tests are never skipped."
            ) from exc
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def make_settings(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, **extra: Any
) -> Settings:
    """Test-mode settings for ``backend``; PostgreSQL tests get a schema of their own."""
    base: dict[str, Any] = {"mode": "test", "test_mode": True, "log_level": "WARNING"}
    if backend == "sqlite":
        base["database_url"] = f"sqlite+aiosqlite:///{tmp_path / 'securevote.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        schema = f"t_{secrets.token_hex(6)}"

        async def create_schema() -> None:
            connection = await asyncpg.connect(_asyncpg_dsn(url))
            try:
                await connection.execute(f"CREATE SCHEMA {schema}")
            finally:
                await connection.close()

        asyncio.run(create_schema())
        base.update(database_url=url, database_schema=schema)
    base.update(extra)
    return Settings(**base)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_settings(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for an empty database (no migrations applied)."""
    return make_settings(backend, request, tmp_path)


@pytest.fixture
def settings(empty_settings: Settings) -> Settings:
    """Settings for a database migrated to the head revision."""
    migrations.upgrade(empty_settings)
    return empty_settings


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


@pytest.fixture
def postgres_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """A migrated PostgreSQL database, for what only PostgreSQL has (triggers, for one)."""
    settings = make_settings("postgresql", request, tmp_path)
    migrations.upgrade(settings)
    return settings


@pytest.fixture
async def postgres_database(postgres_settings: Settings) -> AsyncIterator[Database]:
    db = Database(postgres_settings)
    yield db
    await db.dispose()


@pytest.fixture
def serve() -> Any:
    """``async with serve(app) as client``: the app with its lifespan, and an HTTP client."""
    return running


@asynccontextmanager
async def running(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for ``app`` with its lifespan started, as a server would run it."""
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


class SecurevoteCli:
    """The ``securevote`` command as an operator runs it: real processes on loopback ports."""

    command = (sys.executable, "-m", "securevote.cli")

    @staticmethod
    def environment(settings: Settings, **extra: str) -> dict[str, str]:
        """This machine's environment, with the test database's settings and nothing else of
        secure-vote's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREVOTE_")}
        env.pop("DATABASE_URL", None)
        env.update(
            SECUREVOTE_MODE="test",
            TEST_MODE="true",
            SECUREVOTE_DATABASE_URL=settings.database_url,
            SECUREVOTE_LOG_LEVEL="WARNING",
        )
        if settings.database_schema:
            env["SECUREVOTE_DATABASE_SCHEMA"] = settings.database_schema
        env.update(extra)
        return env

    def run(
        self,
        args: list[str],
        env: dict[str, str],
        cwd: Path,
        *,
        stdin: str | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``securevote ARGS`` to the end; its output captured as text, its exit status
        left to the test."""
        return subprocess.run(
            [*self.command, *args],
            env=env,
            cwd=cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    @staticmethod
    def free_port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    @contextmanager
    def server(
        self, args: list[str], env: dict[str, str], cwd: Path, *, ready_path: str = "/health"
    ) -> Iterator[str]:
        """Start ``securevote ARGS --host 127.0.0.1 --port P``; yield its base URL once
        ``ready_path`` answers 200; stop it at the end."""
        port = self.free_port()
        process = subprocess.Popen(
            [*self.command, *args, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}{ready_path}", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    raise AssertionError(f"securevote {args[0]} did not start:\n{output}")
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=20)


@pytest.fixture
def securevote_cli() -> SecurevoteCli:
    return SecurevoteCli()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Show that the database tests ran on both databases."""
    counts = {name: {"passed": 0, "failed": 0} for name in BACKENDS}
    for outcome in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            if report.when != "call" and outcome != "error":
                continue
            for name in BACKENDS:
                if f"[{name}" in report.nodeid or f"-{name}]" in report.nodeid:
                    counts[name]["passed" if outcome == "passed" else "failed"] += 1
    terminalreporter.section("database backends")
    for name, count in counts.items():
        terminalreporter.write_line(f"{name}: {count['passed']} passed, {count['failed']} failed")
