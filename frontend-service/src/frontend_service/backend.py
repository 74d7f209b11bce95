"""Calling the API services from the server side of a page, with the admin's token.

The same code reaches the services in process (all-in-one) or over HTTP (apart), through
:func:`securevote.clients.service_client`. API errors (problem+json) become
:class:`ApiError`, whose message is what the API said a client may know.

Every call carries the browser's address in ``X-Forwarded-For``, so that the auth service
limits console logins per browser, not per frontend (it believes the header from the
frontend in process, or apart when the frontend's network is in its
``SECUREVOTE_TRUSTED_PROXIES``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import Request

from securevote.client_address import client_address
from securevote.clients import service_client
from securevote.config import ConfigurationError, Settings


@dataclass
class ApiError(Exception):
    status: int
    message: str
    code: str | None = None
    problem: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


def _problem(response: httpx.Response) -> ApiError:
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = str(body.get("detail") or body.get("title") or f"Error {response.status_code}")
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        parts = []
        for item in errors[:10]:
            if isinstance(item, dict):
                where = item.get("loc") or item.get("location") or item.get("field") or ""
                if isinstance(where, list):
                    where = ".".join(str(p) for p in where if p not in ("body",))
                parts.append(f"{where}: {item.get('msg') or item.get('message') or ''}".strip())
        if parts:
            message = f"{message} ({'; '.join(parts)})"
    missing = body.get("missing")
    if isinstance(missing, list) and missing:
        message = f"{message}: {'; '.join(str(m) for m in missing)}"
    code = body.get("code")
    return ApiError(response.status_code, message, str(code) if code else None, body)


async def call(
    request: Request,
    service: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    json: Any = None,
    params: dict[str, Any] | None = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    ok: tuple[int, ...] = (200, 201, 202, 204),
) -> Any:
    """Call ``service`` and return the decoded JSON (None for an empty body); raise ApiError
    for an answer outside ``ok``. An unreachable service is a 503 ApiError."""
    sent = dict(headers or {})
    settings: Settings = request.app.state.settings
    sent["X-Forwarded-For"] = client_address(request, settings.trusted_proxies)
    if token:
        sent["Authorization"] = f"Bearer {token}"
    request_id = getattr(request.state, "request_id", None)
    if isinstance(request_id, str):
        sent["X-Request-ID"] = request_id
    try:
        async with service_client(request.app, service) as client:
            response = await client.request(
                method, path, json=json, params=params, content=content, headers=sent
            )
    except (httpx.TransportError, ConfigurationError):
        raise ApiError(503, f"The {service} service cannot be reached right now.") from None
    if response.status_code not in ok:
        raise _problem(response)
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ApiError(502, f"The {service} service answered something unexpected.") from None


async def fetch_bytes(request: Request, service: str, path: str) -> httpx.Response | None:
    """A GET returning the raw response (for downloads), or None if unreachable."""
    try:
        async with service_client(request.app, service) as client:
            return await client.get(path)
    except (httpx.TransportError, ConfigurationError):
        return None
