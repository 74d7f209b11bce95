"""TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps) and its encrypted storage.

The secret is stored encrypted (XChaCha20-Poly1305, key derived from the server secret,
bound to the account id as associated data), so a database dump alone yields no second
factor. A code is accepted within one step either side of now, and each step only once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

import pysodium

STEP_SECONDS = 30
DIGITS = 6
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommendation for HMAC-SHA-1
_FORMAT = "v1"


def new_secret() -> str:
    """A fresh secret in base32 without padding, as authenticator apps expect it."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode().rstrip("=")


def _key_bytes(secret_b32: str) -> bytes:
    return base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8), casefold=True)


def step_at(unix_seconds: float) -> int:
    return int(unix_seconds // STEP_SECONDS)


def code_for_step(secret_b32: str, step: int) -> str:
    """The code of one time step (RFC 4226 HOTP with the step as the counter)."""
    digest = hmac.new(_key_bytes(secret_b32), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def matching_step(
    secret_b32: str, code: str, *, now: float, last_step: int | None, window: int = 1
) -> int | None:
    """The step ``code`` belongs to (now ± window, after ``last_step``), or None.

    Every candidate is compared in constant time, and all are compared, so timing does not
    tell which step matched."""
    current = step_at(now)
    found: int | None = None
    for step in range(current - window, current + window + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(code_for_step(secret_b32, step), code) and found is None:
            found = step
    return found


def provisioning_uri(secret_b32: str, *, account: str, issuer: str) -> str:
    """The otpauth:// URI authenticator apps read (usually from a QR code)."""
    label = f"{quote(issuer, safe='')}:{quote(account, safe='@')}"
    query = urlencode(
        {
            "secret": secret_b32,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_SECONDS,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def _storage_key(server_secret: bytes) -> bytes:
    return hmac.new(server_secret, b"securevote/v1/auth/totp-secret-key", hashlib.sha256).digest()


def _associated_data(account_id: str) -> bytes:
    return b"securevote/v1/auth/totp-secret\x00" + account_id.encode()


def seal(secret_b32: str, *, account_id: str, server_secret: bytes) -> str:
    nonce = secrets.token_bytes(pysodium.crypto_aead_xchacha20poly1305_ietf_NONCEBYTES)
    sealed = pysodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        secret_b32.encode(), _associated_data(account_id), nonce, _storage_key(server_secret)
    )
    return f"{_FORMAT}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def unseal(stored: str, *, account_id: str, server_secret: bytes) -> str:
    """The secret; ValueError if it was not sealed for this account with this server key."""
    version, _, payload = stored.partition(".")
    if version != _FORMAT:
        raise ValueError("unknown TOTP secret format")
    raw = base64.urlsafe_b64decode(payload)
    size = pysodium.crypto_aead_xchacha20poly1305_ietf_NONCEBYTES
    plain = pysodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        raw[size:], _associated_data(account_id), raw[:size], _storage_key(server_secret)
    )
    return bytes(plain).decode()
