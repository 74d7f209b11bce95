"""The security baseline of every page: response headers (a strict Content-Security-Policy
and friends) and CSRF protection for every form.

Headers are added by a pure ASGI middleware to every response of the frontend app (pages,
static files, errors, health). CSRF uses a random, HttpOnly, SameSite=Strict cookie
(``sv_csrf``) and a form token derived from it with a key only the server holds
(HMAC-SHA-256): a cross-site page can neither read the cookie nor compute the token, and a
cookie planted by a sibling host is useless without the server's key. Every unsafe request
(POST, PUT, PATCH, DELETE) to a frontend route must carry the token (form field
``csrf_token`` or header ``X-CSRF-Token``) and, when the browser sends them, an ``Origin``
of this site and ``Sec-Fetch-Site: same-origin``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontend_service.errors import PageError
from securevote.config import Settings

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), interest-cohort=()"
)
HSTS = "max-age=63072000; includeSubDomains"

CSRF_COOKIE = "sv_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_CSRF_DOMAIN = b"securevote/v1/frontend-csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response of the app it wraps."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.https_site = settings.public_url.startswith("https://")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = self.https_site or scope.get("scheme") == "https"
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Permissions-Policy"] = PERMISSIONS_POLICY
                headers["X-Frame-Options"] = "DENY"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Cross-Origin-Resource-Policy"] = "same-origin"
                if https:
                    headers["Strict-Transport-Security"] = HSTS
                if not path.startswith("/static/") and "cache-control" not in headers:
                    # Pages may show an admin's data or a voter's state: never cache them.
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cookie_secure(settings: Settings) -> bool:
    """Whether cookies are marked Secure: always, unless the operator turned it off for
    plain-http development (the same switch as the voter cookie)."""
    return settings.voter_cookie_secure


def _csrf_key(settings: Settings) -> bytes:
    return hmac.new(settings.secret_key_bytes, _CSRF_DOMAIN, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def csrf_token_for(settings: Settings, cookie_value: str) -> str:
    mac = hmac.new(_csrf_key(settings), cookie_value.encode(), hashlib.sha256).digest()
    return _b64(mac)


def csrf_cookie_value(request: Request) -> tuple[str, bool]:
    """The browser's CSRF cookie, or a fresh one (then True: the response must set it)."""
    value = request.cookies.get(CSRF_COOKIE, "")
    if 32 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum():
        return value, False
    fresh = getattr(request.state, "csrf_fresh", None)
    if fresh is None:
        fresh = _b64(secrets.token_bytes(32))
        request.state.csrf_fresh = fresh
    return fresh, True


def set_csrf_cookie(response: Response, settings: Settings, value: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        value,
        path="/",
        secure=cookie_secure(settings),
        httponly=True,
        samesite="strict",
    )


def _origin_allowed(request: Request, origin: str) -> bool:
    settings: Settings = request.app.state.settings
    own = {_origin_of(settings.public_url), _origin_of(str(request.base_url))}
    return _origin_of(origin) in own


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def require_csrf(request: Request) -> None:
    """Router dependency: refuse an unsafe request without a valid CSRF token (403)."""
    if request.method not in UNSAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is not None and origin != "null" and not _origin_allowed(request, origin):
        raise _refused()
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in {"same-origin", "none"}:
        raise _refused()
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie:
        raise _refused()
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            field = form.get(CSRF_FIELD)
            sent = field if isinstance(field, str) else None
    expected = csrf_token_for(request.app.state.settings, cookie)
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise _refused()


def _refused() -> PageError:
    return PageError(
        403,
        "This form could not be accepted: its security token is missing, expired or from "
        "another site. Go back, reload the page and try again.",
        title="Form refused",
    )
