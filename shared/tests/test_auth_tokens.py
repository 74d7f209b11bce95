"""EdDSA JWTs: what is issued verifies; everything else is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi import APIRouter

from securevote.auth import (
    InvalidToken,
    PrincipalKind,
    Role,
    TokenSigner,
    TokenVerifier,
    principal_from_claims,
)
from securevote.config import Settings
from securevote.deps import CurrentAdmin, CurrentVoter
from securevote.webapp import create_service_app

SIGNER = TokenSigner(bytes(range(32)))
OTHER = TokenSigner(bytes(range(1, 33)))
VERIFIER = TokenVerifier([SIGNER.public_key])
ADMIN_CLAIMS = {"sub": "admin-1", "kind": "admin", "org": "org-1", "roles": ["owner"]}
VOTER_CLAIMS = {"sub": "v", "kind": "voter", "eid": "e-1", "cred": "cred-9"}
NOW = 1_800_000_000


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _replace(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


def test_an_issued_token_verifies_and_names_its_principal() -> None:
    token = SIGNER.issue(ADMIN_CLAIMS, ttl_seconds=300, now=NOW)
    principal = principal_from_claims(VERIFIER.verify(token, now=NOW + 10))
    assert principal.kind is PrincipalKind.ADMIN
    assert principal.organisation_id == "org-1"
    assert principal.has_role(Role.OWNER)
    assert not principal.has_role(Role.TRUSTEE)
    voter = principal_from_claims(VERIFIER.verify(SIGNER.issue(VOTER_CLAIMS, ttl_seconds=60)))
    assert (voter.election_id, voter.credential) == ("e-1", "cred-9")


def test_every_token_gets_its_own_id() -> None:
    first = VERIFIER.verify(SIGNER.issue(ADMIN_CLAIMS, ttl_seconds=60))
    second = VERIFIER.verify(SIGNER.issue(ADMIN_CLAIMS, ttl_seconds=60))
    assert first["jti"] != second["jti"]


def _forgeries() -> dict[str, str]:
    token = SIGNER.issue(ADMIN_CLAIMS, ttl_seconds=300, now=NOW)
    header, payload, _signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return {
        "another key": OTHER.issue(ADMIN_CLAIMS, ttl_seconds=300, now=NOW),
        "payload changed": _replace(token, 1, _b64({**claims, "roles": ["owner", "admin"]})),
        "alg none": _replace(_replace(token, 0, _b64({"alg": "none", "typ": "JWT"})), 2, ""),
        "alg HS256": _replace(token, 0, _b64({"alg": "HS256", "kid": SIGNER.key_id, "typ": "JWT"})),
        "extra header": _replace(
            token, 0, _b64({"alg": "EdDSA", "kid": SIGNER.key_id, "typ": "JWT", "jku": "x"})
        ),
        "signature cut": token[:-4],
        "two parts": f"{header}.{payload}",
        "padding": token + "==",
        "garbage": "not-a-token",
    }


@pytest.mark.parametrize("name", sorted(_forgeries()))
def test_forged_and_malformed_tokens_are_refused(name: str) -> None:
    with pytest.raises(InvalidToken):
        VERIFIER.verify(_forgeries()[name], now=NOW)


def test_expiry_and_not_before_are_enforced_with_a_small_skew() -> None:
    token = SIGNER.issue(ADMIN_CLAIMS, ttl_seconds=60, now=NOW)
    VERIFIER.verify(token, now=NOW + 60 + 29)
    with pytest.raises(InvalidToken, match="expired"):
        VERIFIER.verify(token, now=NOW + 60 + 30)
    with pytest.raises(InvalidToken, match="not yet valid"):
        VERIFIER.verify(token, now=NOW - 31)


def test_the_jwks_lets_another_service_verify() -> None:
    token = SIGNER.issue(ADMIN_CLAIMS, ttl_seconds=60)
    assert TokenVerifier.from_jwks(SIGNER.jwks()).verify(token)["sub"] == "admin-1"
    assert SIGNER.jwks()["keys"][0]["kid"] == SIGNER.key_id


async def test_endpoints_check_the_kind_of_principal(settings: Settings, serve: Any) -> None:
    from securevote.auth import signer_from_settings

    router = APIRouter(prefix="/api/t")

    @router.get("/admin")
    def admin_only(admin: CurrentAdmin) -> dict[str, str | None]:
        return {"org": admin.organisation_id}

    @router.get("/voter")
    def voter_only(voter: CurrentVoter) -> dict[str, str | None]:
        return {"election": voter.election_id}

    app = create_service_app(
        name="t", prefix="/api/t", settings=settings, database=None, routers=[router], title="t"
    )
    signer = signer_from_settings(settings)
    admin = {"authorization": f"Bearer {signer.issue(ADMIN_CLAIMS, ttl_seconds=60)}"}
    voter = {"authorization": f"Bearer {signer.issue(VOTER_CLAIMS, ttl_seconds=60)}"}
    foreign = {"authorization": f"Bearer {OTHER.issue(ADMIN_CLAIMS, ttl_seconds=60)}"}
    async with serve(app) as client:
        assert (await client.get("/api/t/admin", headers=admin)).json() == {"org": "org-1"}
        assert (await client.get("/api/t/voter", headers=voter)).json() == {"election": "e-1"}
        assert (await client.get("/api/t/admin", headers=voter)).status_code == 403
        assert (await client.get("/api/t/voter", headers=admin)).status_code == 403
        refused = await client.get("/api/t/admin", headers=foreign)
        missing = await client.get("/api/t/admin")
    assert refused.status_code == missing.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.headers["content-type"] == "application/problem+json"
