"""The admin console's login session: the auth service's tokens, sealed into a cookie.

The cookie ``sv_admin`` holds the access token, the refresh token and the access token's
expiry, encrypted and authenticated with XChaCha20-Poly1305 (libsodium, through pysodium)
under a key derived from ``SECUREVOTE_SECRET_KEY`` with a domain tag (ADR 0009). The browser
cannot read or change it (HttpOnly, and any change fails authentication); the frontend keeps
no state, so any replica can serve any request. When the access token is about to expire
the frontend spends the refresh token and re-seals the new pair into the cookie.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import pysodium
from fastapi import Request
from starlette.responses import Response

from frontend_service.security import cookie_secure
from securevote.config import Settings

ADMIN_COOKIE = "sv_admin"
_KEY_DOMAIN = b"securevote/v1/frontend-session-key"
_AAD = b"securevote/v1/frontend-session"
NONCE_BYTES = 24
# Refresh this long before the access token expires, so a request never carries a token
# that expires on its way.
REFRESH_MARGIN_SECONDS = 30


@dataclass(frozen=True)
class AdminSession:
    access_token: str
    refresh_token: str
    access_expires_at: float

    def expiring(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) >= (
            self.access_expires_at - REFRESH_MARGIN_SECONDS
        )


def _key(settings: Settings) -> bytes:
    return hmac.new(settings.secret_key_bytes, _KEY_DOMAIN, hashlib.sha256).digest()


def seal(settings: Settings, session: AdminSession) -> str:
    payload = json.dumps(
        {"a": session.access_token, "r": session.refresh_token, "e": session.access_expires_at},
        separators=(",", ":"),
    ).encode()
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = pysodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        payload, _AAD, nonce, _key(settings)
    )
    return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()


def unseal(settings: Settings, value: str) -> AdminSession | None:
    """The session in the cookie, or None if it is missing, malformed or was tampered with."""
    if not value or len(value) > 4000:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        payload = pysodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            raw[NONCE_BYTES:], _AAD, raw[:NONCE_BYTES], _key(settings)
        )
        data: Any = json.loads(payload)
        return AdminSession(
            access_token=str(data["a"]),
            refresh_token=str(data["r"]),
            access_expires_at=float(data["e"]),
        )
    except (ValueError, binascii.Error, KeyError, TypeError):
        return None


def from_request(request: Request) -> AdminSession | None:
    settings: Settings = request.app.state.settings
    return unseal(settings, request.cookies.get(ADMIN_COOKIE, ""))


def session_from_tokens(tokens: dict[str, Any], now: float | None = None) -> AdminSession:
    return AdminSession(
        access_token=str(tokens["access_token"]),
        refresh_token=str(tokens["refresh_token"]),
        access_expires_at=(now if now is not None else time.time())
        + float(tokens.get("expires_in", 600)),
    )


def store(response: Response, settings: Settings, session: AdminSession) -> None:
    response.set_cookie(
        ADMIN_COOKIE,
        seal(settings, session),
        path="/",
        secure=cookie_secure(settings),
        httponly=True,
        samesite="strict",
    )


def clear(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        ADMIN_COOKIE, path="/", secure=cookie_secure(settings), httponly=True, samesite="strict"
    )
