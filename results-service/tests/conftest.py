"""Fixtures for the results service tests: every service in one process (as `securevote up`
runs them, without the background jobs, so each step happens when the test says), a real
3-trustee ceremony whose key shares the test holds, and an election set up the way the
election service's triggers accept (its rows as a draft, then the state stepped up)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from starlette.types import Receive, Send

from election_service.models import CeremonyTrustee, Election, Voter
from securevote.auth import signer_from_settings
from securevote.ballots import (
    ElectionContext,
    Manifest,
    OptionDefinition,
    QuestionDefinition,
    encrypt_ballot,
    tally_label,
)
from securevote.config import Settings
from securevote.crypto.threshold import (
    CeremonyParameters,
    KeyShare,
    TrusteeIdentity,
    compute_decryption_share,
    deal,
    generate_box_keypair,
    receive_shares,
)
from securevote.db import Database
from securevote.record import trustees_document
from securevote_server.allinone import AllInOne

RESULTS = "/api/results/elections/{}"
ORG = "org-main"
OTHER_ORG = "org-other"
TRUSTEE_ACCOUNTS = {1: "acct-trustee-1", 2: "acct-trustee-2", 3: "acct-trustee-3"}


class Stack(AllInOne):
    """The all-in-one dispatcher, with the apps' lifespans but without background jobs."""

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        async with AsyncExitStack() as stack:
            await receive()
            for app in self.apps.values():
                await stack.enter_async_context(app.router.lifespan_context(app))
            stack.push_async_callback(self.database.dispose)
            await send({"type": "lifespan.startup.complete"})
            await receive()
        await send({"type": "lifespan.shutdown.complete"})


def make_manifest(election_id: str) -> Manifest:
    return Manifest(
        election_id=election_id,
        title="Board election",
        questions=(
            QuestionDefinition(
                id="chair",
                label="Chair",
                options=(
                    OptionDefinition(id="ada", label="Ada Lovelace"),
                    OptionDefinition(id="grace", label="Grace <Hopper> & co"),
                    OptionDefinition(id="alan", label="Alan Turing"),
                ),
                min_selections=1,
                max_selections=1,
            ),
            QuestionDefinition(
                id="motions",
                label="Motions",
                options=(
                    OptionDefinition(id="m1", label="Motion 1"),
                    OptionDefinition(id="m2", label="Motion 2"),
                ),
                min_selections=0,
                max_selections=2,
            ),
        ),
    )


@dataclass
class TestElection:
    id: str
    context: ElectionContext
    key_shares: dict[int, KeyShare]
    credentials: list[str]
    cast: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)

    def expected_counts(self) -> dict[tuple[str, str], int]:
        """The plain count: the last choice of each credential."""
        last = dict(self.cast)
        counts = {(q.id, o): 0 for q in self.context.manifest.questions for o in q.option_ids}
        for choice in last.values():
            for question, options in choice.items():
                for option in options:
                    counts[(question, option)] += 1
        return counts

    def share_body(self, trustee: int, aggregate: list[dict[str, Any]]) -> dict[str, Any]:
        from securevote.crypto.elgamal import Ciphertext

        shares = []
        for entry in aggregate:
            share = compute_decryption_share(
                key_share=self.key_shares[trustee],
                ciphertext=Ciphertext.from_json(entry["ciphertext"]),
                election_hash=self.context.election_hash,
                label=tally_label(entry["question"], entry["option"]),
            )
            shares.append(
                {
                    "question": entry["question"],
                    "option": entry["option"],
                    "share": share.share.hex(),
                    "proof": share.proof.to_json(),
                }
            )
        return {"trustee": trustee, "shares": shares}


def run_ceremony(
    manifest: Manifest, n: int = 3, k: int = 2
) -> tuple[ElectionContext, dict[int, KeyShare]]:
    boxes = {i: generate_box_keypair() for i in range(1, n + 1)}
    trustees = tuple(TrusteeIdentity(i, f"trustee-{i}", boxes[i][0]) for i in boxes)
    params = CeremonyParameters(
        manifest_hash=manifest.manifest_hash, threshold=k, trustees=trustees
    )
    dealings = {i: deal(params=params, index=i) for i in boxes}
    commitments = {i: d.commitment for i, d in dealings.items()}
    sealed = [box for d in dealings.values() for box in d.shares]
    key_shares = {}
    for i, (public, secret) in boxes.items():
        share, complaints = receive_shares(
            params=params,
            index=i,
            box_public_key=public,
            box_secret_key=secret,
            commitments=commitments,
            shares=sealed,
        )
        assert share is not None and not complaints
        key_shares[i] = share
    context = ElectionContext(manifest, k, trustees, tuple(commitments[i] for i in boxes))
    return context, key_shares


async def create_election(
    database: Database,
    *,
    voters: int = 6,
    allow_revoting: bool = True,
    server_trustee: bool = False,
) -> TestElection:
    """An open election: 3 trustees, k = 2 (or the demo server trustee: n = k = 1)."""
    election_id = str(uuid.uuid4())
    n, k = (1, 1) if server_trustee else (3, 2)
    context, key_shares = run_ceremony(make_manifest(election_id), n, k)
    now = datetime.now(UTC)
    credentials = [f"cred-{uuid.uuid4().hex}" for _ in range(voters)]
    async with database.session() as session:
        session.add(
            Election(
                id=election_id,
                organisation_id=ORG,
                title="Board election",
                description="",
                time_zone="UTC",
                opens_at=now - timedelta(hours=1),
                closes_at=now + timedelta(days=1),
                allow_revoting=allow_revoting,
                second_factor="none",
                state="draft",
                trustee_count=n,
                threshold=k,
                server_trustee=server_trustee,
                context_document={
                    "manifest": context.manifest.to_json(),
                    "trustees": trustees_document(context),
                    "threshold": context.threshold,
                },
                election_hash=context.election_hash.hex(),
                created_by="admin:test",
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        for index in range(1, n + 1):
            session.add(
                CeremonyTrustee(
                    election_id=election_id,
                    trustee_index=index,
                    account_id=None if server_trustee else TRUSTEE_ACCOUNTS[index],
                    name=f"trustee-{index}",
                )
            )
        for number, credential in enumerate(credentials):
            session.add(
                Voter(
                    election_id=election_id,
                    email=f"voter{number}@example.org",
                    email_key=f"voter{number}@example.org",
                    name=f"Voter {number}",
                    external_id=None,
                    secret_digest=None,
                    credential=credential,
                )
            )
    for state in ("frozen", "open"):
        async with database.session() as session:
            await session.execute(
                update(Election).where(Election.id == election_id).values(state=state)
            )
    return TestElection(election_id, context, key_shares, credentials)


@pytest.fixture
def tokens(settings: Settings) -> Callable[..., dict[str, str]]:
    """``tokens("owner")`` → Authorization headers; ``tokens("trustee", subject=…)``,
    ``tokens("voter", election_id=…, credential=…)``, ``tokens("owner", org=OTHER_ORG)``."""
    signer = signer_from_settings(settings)

    def make(
        role: str,
        *,
        org: str = ORG,
        subject: str = "admin-1",
        election_id: str = "e",
        credential: str = "c",
    ) -> dict[str, str]:
        if role == "anonymous":
            return {}
        if role == "voter":
            claims: dict[str, Any] = {
                "sub": f"v-{credential[-8:]}",
                "kind": "voter",
                "eid": election_id,
                "cred": credential,
            }
        else:
            claims = {"sub": subject, "kind": "admin", "org": org, "roles": [role]}
        return {"Authorization": f"Bearer {signer.issue(claims, ttl_seconds=600)}"}

    return make


@pytest.fixture
async def client(settings: Settings, serve: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(Stack(settings)) as http:
        yield http


@pytest.fixture
def election_factory(database: Database) -> Callable[..., Any]:
    async def make(**kwargs: Any) -> TestElection:
        return await create_election(database, **kwargs)

    return make


VOTES = [
    {"chair": ["ada"], "motions": ["m1"]},
    {"chair": ["grace"], "motions": ["m1", "m2"]},
    {"chair": ["ada"], "motions": []},
    {"chair": ["alan"], "motions": ["m2"]},
    {"chair": ["grace"], "motions": ["m1"]},
]
REVOTE = (2, {"chair": ["grace"], "motions": ["m2"]})  # voter 2 changes their mind


@dataclass
class Flows:
    """The steps of an election through the APIs, as the tests take them."""

    client: httpx.AsyncClient
    tokens: Callable[..., dict[str, str]]
    VOTES = VOTES

    def trustee(self, index: int) -> dict[str, str]:
        return self.tokens("trustee", subject=f"acct-trustee-{index}")

    async def cast(
        self, election: TestElection, credential: str, choice: dict[str, list[str]]
    ) -> None:
        ballot, _ = encrypt_ballot(
            manifest=election.context.manifest,
            public_key=election.context.joint_key,
            election_hash=election.context.election_hash,
            credential=credential,
            choices=choice,
        )
        response = await self.client.post(
            f"/api/ballots/elections/{election.id}/cast",
            json={"ballot": ballot.to_json()},
            headers=self.tokens("voter", election_id=election.id, credential=credential),
        )
        assert response.status_code == 201, response.text
        election.cast.append((credential, choice))

    async def spoil(self, election: TestElection) -> None:
        credential = election.credentials[0]
        choice = {"chair": ["alan"], "motions": []}
        ballot, seed = encrypt_ballot(
            manifest=election.context.manifest,
            public_key=election.context.joint_key,
            election_hash=election.context.election_hash,
            credential=credential,
            choices=choice,
        )
        response = await self.client.post(
            f"/api/ballots/elections/{election.id}/spoil",
            json={"ballot": ballot.to_json(), "seed": seed.hex(), "choices": choice},
            headers=self.tokens("voter", election_id=election.id, credential=credential),
        )
        assert response.status_code == 201, response.text

    async def vote_and_close(self, election: TestElection) -> None:
        """A spoiled ballot, VOTES, voter 2's re-vote; close and seal."""
        await self.spoil(election)
        for credential, choice in zip(election.credentials, VOTES, strict=False):
            await self.cast(election, credential, choice)
        voter, choice = REVOTE
        await self.cast(election, election.credentials[voter], choice)
        owner = self.tokens("owner")
        closed = await self.client.post(f"/api/elections/{election.id}/close", headers=owner)
        assert closed.status_code == 200, closed.text
        sealed = await self.client.post(
            f"/api/ballots/elections/{election.id}/board/seal", headers=owner
        )
        assert sealed.status_code == 200, sealed.text

    async def decrypt(self, election: TestElection) -> None:
        """Trustees 1 and 3 post their shares (k = 2)."""
        base = RESULTS.format(election.id)
        aggregate = (await self.client.get(f"{base}/aggregate", headers=self.trustee(1))).json()
        for index in (1, 3):
            body = election.share_body(index, aggregate["aggregate"])
            posted = await self.client.post(
                f"{base}/shares", json=body, headers=self.trustee(index)
            )
            assert posted.status_code == 201, posted.text
        assert posted.json()["decrypted"] is True

    async def tally_and_decrypt(self, election: TestElection) -> None:
        base = RESULTS.format(election.id)
        started = await self.client.post(f"{base}/tally", headers=self.tokens("owner"))
        assert started.status_code == 202, started.text
        progress = (await self.client.get(f"{base}/tally", headers=self.tokens("owner"))).json()
        assert progress["status"] == "done"
        assert progress["processed"] == progress["total"] == len(VOTES)
        await self.decrypt(election)


@pytest.fixture
def flows(client: httpx.AsyncClient, tokens: Callable[..., dict[str, str]]) -> Flows:
    return Flows(client, tokens)
