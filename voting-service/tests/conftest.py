"""Fixtures for the voting service tests: a real 3-trustee election context, election rows
inserted the way the election service's triggers accept (draft → frozen → open), voter
sessions, and ballots encrypted for them."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from election_service.models import Election
from securevote.auth import signer_from_settings
from securevote.ballots import (
    ElectionContext,
    EncryptedBallot,
    Manifest,
    OptionDefinition,
    QuestionDefinition,
    encrypt_ballot,
)
from securevote.config import Settings
from securevote.crypto.threshold import (
    CeremonyParameters,
    TrusteeIdentity,
    deal,
    generate_box_keypair,
)
from securevote.db import Database
from securevote.record import trustees_document
from voting_service.app import create_app

ELECTION_ID = "e-main"
CHOICE = {"chair": ["ada"], "motions": ["m1"]}
OTHER_CHOICE = {"chair": ["grace"], "motions": []}


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
                    OptionDefinition(id="grace", label="Grace Hopper"),
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


@cache
def make_context(election_id: str) -> ElectionContext:
    """A real k-of-n ceremony's public part (2 of 3): commitments with valid proofs."""
    manifest = make_manifest(election_id)
    boxes = {i: generate_box_keypair() for i in (1, 2, 3)}
    trustees = tuple(TrusteeIdentity(i, f"trustee-{i}", boxes[i][0]) for i in boxes)
    params = CeremonyParameters(
        manifest_hash=manifest.manifest_hash, threshold=2, trustees=trustees
    )
    commitments = tuple(deal(params=params, index=i).commitment for i in boxes)
    return ElectionContext(manifest, 2, trustees, commitments)


def context_document(context: ElectionContext) -> dict[str, Any]:
    return {
        "manifest": context.manifest.to_json(),
        "trustees": trustees_document(context),
        "threshold": context.threshold,
    }


async def create_election(
    database: Database,
    *,
    election_id: str = ELECTION_ID,
    state: str = "open",
    allow_revoting: bool = False,
) -> ElectionContext:
    """Insert an election as a draft with its frozen context, then step its state up."""
    context = make_context(election_id)
    now = datetime.now(UTC)
    async with database.session() as session:
        session.add(
            Election(
                id=election_id,
                organisation_id="org-main",
                title="Board election",
                description="",
                time_zone="UTC",
                opens_at=now - timedelta(hours=1),
                closes_at=now + timedelta(days=1),
                allow_revoting=allow_revoting,
                second_factor="none",
                state="draft",
                trustee_count=3,
                threshold=2,
                context_document=context_document(context),
                election_hash=context.election_hash.hex(),
                created_by="admin:test",
                created_at=now,
                updated_at=now,
            )
        )
    steps = ["draft", "frozen", "open", "closed"]
    for step in steps[1 : steps.index(state) + 1]:
        await set_state(database, election_id, step)
    return context


async def set_state(database: Database, election_id: str, state: str) -> None:
    async with database.session() as session:
        await session.execute(
            update(Election).where(Election.id == election_id).values(state=state)
        )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI, serve: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as http:
        yield http


@dataclass(frozen=True)
class Voter:
    credential: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def voter(settings: Settings) -> Callable[..., Voter]:
    """``voter()`` → a fresh voter session for ELECTION_ID (``voter(election_id=…)``)."""
    signer = signer_from_settings(settings)

    def make(*, election_id: str = ELECTION_ID, credential: str | None = None) -> Voter:
        credential = credential or f"cred-{secrets.token_hex(8)}"
        claims = {
            "sub": f"voter-{uuid.uuid4().hex[:8]}",
            "kind": "voter",
            "eid": election_id,
            "cred": credential,
        }
        return Voter(credential, signer.issue(claims, ttl_seconds=600))

    return make


def encrypt_for(
    context: ElectionContext, credential: str, choices: dict[str, list[str]] | None = None
) -> tuple[EncryptedBallot, bytes]:
    return encrypt_ballot(
        manifest=context.manifest,
        public_key=context.joint_key,
        election_hash=context.election_hash,
        credential=credential,
        choices=choices or CHOICE,
    )


def cast_body(ballot: EncryptedBallot) -> dict[str, Any]:
    return {"ballot": ballot.to_json()}


def cast_path(election_id: str = ELECTION_ID) -> str:
    return f"/api/ballots/elections/{election_id}/cast"


def board_path(election_id: str = ELECTION_ID) -> str:
    return f"/api/ballots/elections/{election_id}/board"


class Kit:
    """The helpers above, for tests (conftest modules are not importable under importlib)."""

    ELECTION_ID = ELECTION_ID
    CHOICE = CHOICE
    OTHER_CHOICE = OTHER_CHOICE

    def __init__(self, database: Database) -> None:
        self.database = database

    async def election(self, **kwargs: Any) -> ElectionContext:
        return await create_election(self.database, **kwargs)

    async def set_state(self, state: str, election_id: str = ELECTION_ID) -> None:
        await set_state(self.database, election_id, state)

    context = staticmethod(make_context)
    encrypt = staticmethod(encrypt_for)
    cast_body = staticmethod(cast_body)
    cast_path = staticmethod(cast_path)
    board_path = staticmethod(board_path)
    context_document = staticmethod(context_document)


@pytest.fixture
def kit(database: Database) -> Kit:
    return Kit(database)
