"""A trustee's own side of the key ceremony, for tests: real keys, real threshold code,
talking to the API with the trustee's own token. Secrets stay in this object."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from securevote.ballots import Manifest
from securevote.crypto.group import Scalar
from securevote.crypto.threshold import (
    CeremonyParameters,
    Complaint,
    Dealing,
    EncryptedShare,
    KeyShare,
    TrusteeCommitment,
    TrusteeIdentity,
    deal,
    generate_box_keypair,
    receive_shares,
)

from .conftest import ORG

Headers = Callable[..., dict[str, str]]


@dataclass
class Trustee:
    """One trustee: an account id, a name, its box key pair and, later, its secrets."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    election_id: str
    index: int
    account_id: str
    name: str
    box_public: bytes = b""
    box_secret: bytes = b""
    dealing: Dealing | None = None
    key_share: KeyShare | None = None
    complaints: list[Complaint] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.box_public, self.box_secret = generate_box_keypair()

    @property
    def base(self) -> str:
        return f"/api/elections/{self.election_id}/ceremony/trustees/{self.index}"

    async def state(self) -> dict[str, Any]:
        response = await self.client.get(
            f"/api/elections/{self.election_id}/ceremony", headers=self.headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def params(self) -> CeremonyParameters:
        """The parameters, recomputed and checked from what the server shows."""
        state = await self.state()
        manifest = Manifest.model_validate(state["manifest"])
        assert manifest.manifest_hash.hex() == state["manifest_hash"]
        params = CeremonyParameters(
            manifest_hash=manifest.manifest_hash,
            threshold=state["threshold"],
            trustees=tuple(
                TrusteeIdentity(t["index"], t["name"], bytes.fromhex(t["box_public_key"]))
                for t in state["trustees"]
            ),
        )
        assert params.ceremony_hash.hex() == state["ceremony_hash"]
        return params

    async def register(self) -> httpx.Response:
        return await self.client.put(
            f"{self.base}/box-key",
            json={"box_public_key": self.box_public.hex()},
            headers=self.headers,
        )

    def dealing_body(self, params: CeremonyParameters, dealing: Dealing) -> dict[str, Any]:
        return {
            "ceremony_hash": params.ceremony_hash.hex(),
            "commitment": dealing.commitment.to_json(),
            "shares": [s.to_json() for s in dealing.shares if s.recipient != self.index],
        }

    async def deal(self, *, tamper_with: int | None = None) -> httpx.Response:
        """Deal; ``tamper_with`` sends that trustee a share that does not match."""
        params = await self.params()
        self.dealing = deal(params=params, index=self.index)
        body = self.dealing_body(params, self.dealing)
        if tamper_with is not None:
            wrong = list(self.dealing.polynomial)
            wrong[0] = Scalar(wrong[0].value + 1)
            bad = deal(params=params, index=self.index, polynomial=wrong)
            body["shares"] = [
                (bad if s["recipient"] == tamper_with else self.dealing)
                .shares[s["recipient"] - 1]
                .to_json()
                for s in body["shares"]
            ]
        return await self.client.post(f"{self.base}/dealing", json=body, headers=self.headers)

    async def verify(self) -> httpx.Response:
        params = await self.params()
        state = await self.state()
        commitments = {
            t["index"]: TrusteeCommitment.from_json(t["commitment"]) for t in state["trustees"]
        }
        fetched = await self.client.get(f"{self.base}/shares", headers=self.headers)
        assert fetched.status_code == 200, fetched.text
        shares = [EncryptedShare.from_json(s) for s in fetched.json()["shares"]]
        assert self.dealing is not None
        shares.append(self.dealing.shares[self.index - 1])  # the share it keeps for itself
        self.key_share, self.complaints = receive_shares(
            params=params,
            index=self.index,
            box_public_key=self.box_public,
            box_secret_key=self.box_secret,
            commitments=commitments,
            shares=shares,
        )
        body: dict[str, Any] = {"ceremony_hash": params.ceremony_hash.hex(), "result": "ok"}
        if self.complaints:
            body = {
                **body,
                "result": "complaints",
                "complaints": [{"accused": c.accused, "reason": c.reason} for c in self.complaints],
            }
        return await self.client.post(f"{self.base}/verification", json=body, headers=self.headers)

    def share_for(self, recipient: int) -> Scalar:
        assert self.dealing is not None
        total = 0
        for coefficient in reversed(self.dealing.polynomial):
            total = total * recipient + coefficient.value
        return Scalar(total)

    async def answer(self, accuser: int, share: Scalar | None = None) -> httpx.Response:
        revealed = share if share is not None else self.share_for(accuser)
        return await self.client.post(
            f"{self.base}/answers",
            json={"accuser": accuser, "share": revealed.hex()},
            headers=self.headers,
        )


def make_trustees(
    client: httpx.AsyncClient, token: Headers, election_id: str, count: int = 3
) -> list[Trustee]:
    names = ["Alice", "Bob", "Carol", "Dave", "Erin"]
    trustees = []
    for index in range(1, count + 1):
        account = str(uuid.uuid4())
        trustees.append(
            Trustee(
                client=client,
                headers=token("trustee", org=ORG, subject=account),
                election_id=election_id,
                index=index,
                account_id=account,
                name=names[index - 1],
            )
        )
    return trustees


async def name_trustees(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    election_id: str,
    trustees: list[Trustee],
    threshold: int,
) -> httpx.Response:
    return await client.put(
        f"/api/elections/{election_id}/trustees",
        json={
            "threshold": threshold,
            "trustees": [{"account_id": t.account_id, "name": t.name} for t in trustees],
        },
        headers=headers,
    )


async def run_ceremony(
    client: httpx.AsyncClient,
    token: Headers,
    election_id: str,
    *,
    count: int = 3,
    threshold: int = 2,
) -> list[Trustee]:
    """A complete honest ceremony through the API; the trustees with their key shares."""
    trustees = make_trustees(client, token, election_id, count)
    named = await name_trustees(client, token("owner"), election_id, trustees, threshold)
    assert named.status_code == 200, named.text
    for step in ("register", "deal", "verify"):
        for trustee in trustees:
            response = await getattr(trustee, step)()
            assert response.status_code == 200, response.text
    assert (await trustees[0].state())["status"] == "complete"
    return trustees
