"""A real server and a real browser for the page tests.

The server is ``securevote up`` in a subprocess on a free loopback port over a temporary
SQLite database, as an operator runs it. The browser is Debian's Chromium driven by
Playwright (never ``playwright install``: no browser is downloaded). Without Chromium the
tests fail with a message saying how to install it; they are never skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .seed import PASSWORD

CHROMIUM = os.environ.get("SECUREVOTE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# var/ is git-ignored.
SCREENSHOTS = Path(
    os.environ.get("SECUREVOTE_SCREENSHOTS", Path(__file__).parents[2] / "var" / "screenshots")
)
AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"


def axe_source() -> str:
    """axe-core (pinned in tests/axe/package-lock.json; test-only, never served)."""
    if not AXE.exists():
        raise AssertionError(
            "axe-core is needed for the accessibility test: "
            "`npm ci --ignore-scripts --prefix frontend-service/tests/axe` "
            "(frontend-service/tests/browser.sh does it)"
        )
    return AXE.read_text()


def chromium_path() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        raise AssertionError(
            "Chromium is needed for the browser tests: `apt-get install -y chromium` "
            "(or set SECUREVOTE_CHROMIUM); see frontend-service/tests/browser.sh"
        )
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Site:
    base: str
    env: dict[str, str]
    cwd: Path
    owner_email: str = "ada@example.org"
    log: Path = field(default_factory=Path)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30, follow_redirects=False)

    def cli(
        self, *args: str, stdin: str = "", env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "securevote.cli", *args],
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@contextmanager
def running_site(tmp: Path, database: dict[str, str] | None = None) -> Iterator[Site]:
    """``securevote up`` over a temporary SQLite file, or over ``database`` (the
    ``SECUREVOTE_DATABASE_URL`` and ``SECUREVOTE_DATABASE_SCHEMA`` of a PostgreSQL schema)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREVOTE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        SECUREVOTE_MODE="test",
        TEST_MODE="true",
        SECUREVOTE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp / 'securevote.db'}",
        SECUREVOTE_PUBLIC_URL=base,
        SECUREVOTE_LOG_LEVEL="WARNING",
    )
    env.update(database or {})
    site = Site(base=base, env=env, cwd=tmp, log=tmp / "server.log")
    with site.log.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "securevote.cli", "up", "--port", str(port)],
            env=env,
            cwd=tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"server did not start:\n{site.log.read_text()}")
                time.sleep(0.2)
            created = site.cli(
                "admin",
                "create",
                "--organisation",
                "Acme Union",
                "--email",
                site.owner_email,
                "--display-name",
                "Ada",
                "--password-stdin",
                stdin=PASSWORD + "\n",
            )
            assert created.returncode == 0, created.stderr + created.stdout
            yield site
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class PageWatch:
    """Console messages, page errors and dialogs of a page: a CSP violation shows up as a
    console error, an executed XSS payload as a dialog."""

    def __init__(self, page: Any) -> None:
        self.console: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)

    def csp_violations(self) -> list[str]:
        return [m for m in self.console if "Content Security Policy" in m or "Refused to" in m]

    def problems(self) -> list[str]:
        return [m for m in self.console if m.startswith("error")] + self.errors + self.dialogs
