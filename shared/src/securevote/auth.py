"""EdDSA (Ed25519) JSON Web Tokens: issued by the auth service, verified by every service.

Only one form is accepted: the protected header must be exactly
``{"alg": "EdDSA", "kid": <key id>, "typ": "JWT"}`` (no algorithm negotiation, so no
``alg: none`` or HMAC-with-the-public-key confusion), the signature must verify under the
public key of that key id, and ``iss``, ``aud``, ``exp``, ``iat`` and ``nbf`` are checked.
Other services hold only public keys (from the auth service's JWKS or from configuration);
only the auth service holds the signing seed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pysodium

from securevote.config import DEV_JWT_SEED, Settings

ISSUER = "securevote"
AUDIENCE = "securevote"
CLOCK_SKEW_SECONDS = 30


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    TRUSTEE = "trustee"
    OBSERVER = "observer"


class PrincipalKind(StrEnum):
    ADMIN = "admin"
    VOTER = "voter"


class InvalidToken(Exception):
    """The token cannot be accepted. The message is for logs and never quotes the token."""


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for.

    An admin token names the admin (``subject``), the organisation and the admin's roles in
    it. A voter token names the election and the voter's pseudonymous credential.
    """

    kind: PrincipalKind
    subject: str
    token_id: str
    expires_at: int
    organisation_id: str | None = None
    roles: frozenset[Role] = field(default_factory=frozenset)
    election_id: str | None = None
    credential: str | None = None

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    if not isinstance(text, str) or "=" in text:
        raise InvalidToken("malformed base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("malformed base64url") from exc


def key_id(public_key: bytes) -> str:
    """A stable key id: the first 16 hex digits of SHA-256 of the public key."""
    return hashlib.sha256(public_key).hexdigest()[:16]


class TokenSigner:
    """Issues tokens with an Ed25519 key derived from a 32-byte seed."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != pysodium.crypto_sign_SEEDBYTES:
            raise ValueError("the JWT signing seed must be 32 bytes (base64 in configuration)")
        self.public_key, self._secret_key = pysodium.crypto_sign_seed_keypair(seed)
        self.key_id = key_id(self.public_key)

    @classmethod
    def from_base64(cls, seed_b64: str) -> TokenSigner:
        try:
            seed = base64.b64decode(seed_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("the JWT signing seed must be base64") from exc
        return cls(seed)

    def issue(self, claims: Mapping[str, Any], *, ttl_seconds: int, now: int | None = None) -> str:
        """Sign ``claims`` plus iss, aud, iat, nbf, exp and a random jti."""
        issued = int(time.time()) if now is None else now
        payload = {
            **claims,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl_seconds,
            "jti": secrets.token_urlsafe(16),
        }
        header = {"alg": "EdDSA", "kid": self.key_id, "typ": "JWT"}
        signing_input = f"{_b64url(_canonical(header))}.{_b64url(_canonical(payload))}"
        signature = pysodium.crypto_sign_detached(signing_input.encode(), self._secret_key)
        return f"{signing_input}.{_b64url(signature)}"

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set (RFC 8037 OKP key) that verifiers fetch."""
        return {"keys": [public_jwk(self.public_key)]}


def public_jwk(public_key: bytes) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "use": "sig",
        "kid": key_id(public_key),
        "x": _b64url(public_key),
    }


def _canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class TokenVerifier:
    """Verifies tokens against a set of Ed25519 public keys (several during key rotation)."""

    def __init__(self, public_keys: Iterable[bytes]) -> None:
        self._keys = {key_id(key): key for key in public_keys}
        if not self._keys:
            raise ValueError("at least one public key is needed to verify tokens")

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any]) -> TokenVerifier:
        keys = []
        for jwk in jwks.get("keys", []):
            if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
                key = _b64url_decode(jwk["x"])
                if len(key) == pysodium.crypto_sign_PUBLICKEYBYTES:
                    keys.append(key)
        return cls(keys)

    def verify(self, token: str, *, now: int | None = None) -> dict[str, Any]:
        """The token's claims, or InvalidToken."""
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 3:
            raise InvalidToken("not a compact JWS")
        header = _json_object(_b64url_decode(parts[0]))
        if set(header) != {"alg", "kid", "typ"} or header["alg"] != "EdDSA":
            raise InvalidToken("unexpected header")
        if header["typ"] != "JWT" or not isinstance(header["kid"], str):
            raise InvalidToken("unexpected header")
        if header["kid"] not in self._keys:
            raise InvalidToken("unknown key id")
        signature = _b64url_decode(parts[2])
        if len(signature) != pysodium.crypto_sign_BYTES:
            raise InvalidToken("bad signature")
        try:
            pysodium.crypto_sign_verify_detached(
                signature, f"{parts[0]}.{parts[1]}".encode(), self._keys[header["kid"]]
            )
        except ValueError as exc:
            raise InvalidToken("bad signature") from exc
        claims = _json_object(_b64url_decode(parts[1]))
        _check_registered_claims(claims, int(time.time()) if now is None else now)
        return claims


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidToken("malformed JSON") from exc
    if not isinstance(value, dict):
        raise InvalidToken("malformed JSON")
    return value


def _check_registered_claims(claims: Mapping[str, Any], now: int) -> None:
    if claims.get("iss") != ISSUER or claims.get("aud") != AUDIENCE:
        raise InvalidToken("wrong issuer or audience")
    for name in ("exp", "iat", "nbf"):
        if not isinstance(claims.get(name), int) or isinstance(claims.get(name), bool):
            raise InvalidToken(f"missing {name}")
    if now >= claims["exp"] + CLOCK_SKEW_SECONDS:
        raise InvalidToken("expired")
    if now + CLOCK_SKEW_SECONDS < claims["nbf"]:
        raise InvalidToken("not yet valid")
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("jti"), str):
        raise InvalidToken("missing subject or token id")


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """The Principal a verified token speaks for; InvalidToken if its claims do not fit."""
    try:
        kind = PrincipalKind(str(claims.get("kind")))
        if kind is PrincipalKind.ADMIN:
            return Principal(
                kind=kind,
                subject=claims["sub"],
                token_id=claims["jti"],
                expires_at=claims["exp"],
                organisation_id=str(claims["org"]),
                roles=frozenset(Role(role) for role in claims.get("roles", [])),
            )
        return Principal(
            kind=kind,
            subject=claims["sub"],
            token_id=claims["jti"],
            expires_at=claims["exp"],
            election_id=str(claims["eid"]),
            credential=str(claims["cred"]),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidToken("claims do not describe a principal") from exc


def signer_from_settings(settings: Settings) -> TokenSigner:
    """The auth service's signer; the public development seed outside prod mode."""
    seed = settings.jwt_signing_seed.get_secret_value() if settings.jwt_signing_seed else None
    return TokenSigner.from_base64(seed or DEV_JWT_SEED)


def verifier_from_settings(settings: Settings) -> TokenVerifier:
    """Every service's verifier: the configured public keys, else the signer's own key."""
    if settings.jwt_public_keys:
        keys = [base64.b64decode(key, validate=True) for key in settings.jwt_public_keys.split(",")]
        return TokenVerifier(keys)
    return TokenVerifier([signer_from_settings(settings).public_key])
