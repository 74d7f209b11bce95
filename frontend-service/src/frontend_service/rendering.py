"""Rendering a page: Jinja2 with autoescaping, the CSRF token, the script integrity hashes."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from frontend_service.security import csrf_cookie_value, csrf_token_for, set_csrf_cookie
from securevote.config import Settings

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
# Jinja2Templates autoescapes .html; make it unconditional (SVG and any other template too).
templates.env.autoescape = True


@lru_cache(maxsize=32)
def _integrity(name: str, mtime_ns: int) -> str:
    digest = hashlib.sha384((STATIC / name).read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode()


def integrity(name: str) -> str:
    """The SRI value of a static file: the crypto bundle's committed ``.sri`` file (so the page
    names exactly the bundle that was built and reviewed), or the hash of our own scripts."""
    if name == "js/securevote.js":
        return (STATIC / "js" / "securevote.js.sri").read_text().strip()
    path = STATIC / name
    return _integrity(name, path.stat().st_mtime_ns)


templates.env.globals["integrity"] = integrity


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> Response:
    settings: Settings = request.app.state.settings
    cookie, fresh = csrf_cookie_value(request)
    values = {
        "csrf_token": csrf_token_for(settings, cookie),
        "admin_signed_in": bool(getattr(request.state, "admin_signed_in", False)),
    }
    values.update(context or {})
    response = templates.TemplateResponse(request, template, values, status_code=status)
    if fresh:
        set_csrf_cookie(response, settings, cookie)
    return response
