"""Normalised keys and keyed hashes: how names, addresses and tokens are compared and stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata
import uuid


def normalise(text: str) -> str:
    """NFC, surrounding whitespace removed: how names and addresses are kept."""
    return unicodedata.normalize("NFC", text).strip()


def comparison_key(text: str) -> str:
    """Case-insensitive key (NFC of the case fold) that uniqueness is enforced on."""
    return unicodedata.normalize("NFC", normalise(text).casefold())


def new_id() -> str:
    return str(uuid.uuid4())


def new_refresh_token() -> str:
    """256 bits from the CSPRNG, URL-safe."""
    return secrets.token_urlsafe(32)


def _keyed_hash(server_secret: bytes, purpose: bytes, value: str) -> str:
    key = hmac.new(server_secret, b"securevote/v1/auth/" + purpose, hashlib.sha256).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def refresh_token_hash(server_secret: bytes, token: str) -> str:
    """What is stored for a refresh token: HMAC-SHA-256 under a key only the server has."""
    return _keyed_hash(server_secret, b"refresh-token", token)


def pseudonymous_email(server_secret: bytes, email_key: str) -> str:
    """A stable, non-reversible label for an address that has no account, for the audit log
    (people type passwords into the e-mail field; the raw input is never recorded)."""
    return _keyed_hash(server_secret, b"unknown-email", email_key)[:24]


def new_voter_token() -> str:
    """256 bits from the CSPRNG, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def deterministic_voter_token(
    test_seed: str, *, election_id: str, credential: str, generation: int
) -> str:
    """TEST_MODE with SECUREVOTE_TEST_SEED only: the same seed gives the same tokens, so a
    test run can be repeated exactly. Still 256 bits, still different per issue."""
    key = hmac.new(test_seed.encode(), b"securevote/v1/auth/test-voter-token", hashlib.sha256)
    message = f"{election_id}\x00{credential}\x00{generation}".encode()
    digest = hmac.new(key.digest(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def voter_token_hash(server_secret: bytes, token: str) -> str:
    """What is stored for a voter token: HMAC-SHA-256 under a key derived from the server
    secret for this purpose only."""
    return _keyed_hash(server_secret, b"voter-token", token)


def voter_subject(server_secret: bytes, credential: str) -> str:
    """The opaque ``sub`` of a voter session: stable per voter, not the credential itself."""
    return "voter:" + _keyed_hash(server_secret, b"voter-subject", credential)[:24]
