"""Demo mode: the server as the single trustee (n = k = 1), clearly labelled.

In this mode nobody but the server holds the election key, so the server (and anyone who
takes its database and its secret) can decrypt every ballot: it is for demonstrations and
small informal votes only. The election says so (``server_trustee`` in the API) and so does
its record: the one trustee is named exactly ``server trustee (demo only)``.

The trustee's ``KeyShare`` is stored encrypted with XChaCha20-Poly1305 (libsodium, through
pysodium) under a key derived from the server secret (``SECUREVOTE_SECRET_KEY``) with a
domain tag; the election and ceremony ids are the associated data, so a stored share cannot
be moved to another election. Changing the server secret makes stored shares unreadable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from functools import lru_cache

import pysodium
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from election_service.models import Election, KeyCeremony, ServerTrusteeKey
from securevote.config import Settings
from securevote.crypto.threshold import CeremonyError, KeyShare

_KEY_DOMAIN = b"securevote/v1/server-trustee-key"
_AAD_DOMAIN = b"securevote/v1/server-trustee-share"
NONCE_BYTES = 24


class ServerTrusteeKeyError(RuntimeError):
    """The stored key share cannot be decrypted (wrong server secret, or tampered with)."""


@lru_cache(maxsize=4)
def _storage_key(server_secret: bytes) -> bytes:
    return hmac.new(server_secret, _KEY_DOMAIN, hashlib.sha256).digest()


def _associated_data(election_id: str, ceremony_id: str) -> bytes:
    return b"\x00".join((_AAD_DOMAIN, election_id.encode(), ceremony_id.encode()))


def seal_key_share(
    key_share: KeyShare, *, server_secret: bytes, election_id: str, ceremony_id: str
) -> bytes:
    """nonce ‖ XChaCha20-Poly1305(KeyShare.to_json)."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    plaintext = json.dumps(key_share.to_json(), sort_keys=True).encode()
    ciphertext = pysodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext,
        _associated_data(election_id, ceremony_id),
        nonce,
        _storage_key(server_secret),
    )
    return nonce + bytes(ciphertext)


def open_key_share(
    sealed: bytes, *, server_secret: bytes, election_id: str, ceremony_id: str
) -> KeyShare:
    try:
        plaintext = pysodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed[NONCE_BYTES:],
            _associated_data(election_id, ceremony_id),
            sealed[:NONCE_BYTES],
            _storage_key(server_secret),
        )
        return KeyShare.from_json(json.loads(plaintext))
    except (ValueError, CeremonyError) as exc:  # pysodium raises ValueError on failure
        raise ServerTrusteeKeyError(
            "the server trustee's key share cannot be decrypted "
            "(was SECUREVOTE_SECRET_KEY changed?)"
        ) from exc


async def server_trustee_key_share(
    session: AsyncSession, *, election_id: str, settings: Settings
) -> KeyShare | None:
    """The server trustee's key share of ``election_id``, for the results service to decrypt
    the tally; None if the election does not use a server trustee or its ceremony is not
    complete. Raises ServerTrusteeKeyError if the stored share cannot be decrypted.

    The caller must use it only for the aggregate (the tally), never for single ballots.
    """
    row = (
        await session.execute(
            select(Election.server_trustee, KeyCeremony.completed_at, ServerTrusteeKey)
            .join(KeyCeremony, KeyCeremony.election_id == Election.id)
            .join(ServerTrusteeKey, ServerTrusteeKey.election_id == Election.id)
            .where(Election.id == election_id)
        )
    ).one_or_none()
    if row is None:
        return None
    uses_server_trustee, completed_at, stored = row
    if not uses_server_trustee or completed_at is None:
        return None
    return open_key_share(
        stored.sealed_key_share,
        server_secret=settings.secret_key_bytes,
        election_id=election_id,
        ceremony_id=stored.ceremony_id,
    )
