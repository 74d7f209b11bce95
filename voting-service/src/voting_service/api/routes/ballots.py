"""Casting and spoiling (a voter session for the election), and the election's public context."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from securevote.record import trustees_document
from voting_service.api.deps import (
    BoardDep,
    CastsDep,
    ContextsDep,
    DatabaseDep,
    ElectionId,
    VerifierDep,
    VoterForElection,
)
from voting_service.api.problems import problem_from
from voting_service.metrics import BALLOTS_CAST
from voting_service.schemas import (
    CastRequest,
    CastResponse,
    ContextResponse,
    ReceiptOut,
    SpoilRequest,
    SpoilResponse,
)
from voting_service.service import BallotBoxError, cast_ballot, public_election, spoil_ballot

router = APIRouter(prefix="/api/ballots/elections/{election_id}", tags=["ballots"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9_.:-]{8,128}$",
        description="a random key per ballot; a retry with the same key returns the same receipt",
    ),
]


@router.get("/context", response_model=ContextResponse)
async def get_context(
    election_id: ElectionId, database: DatabaseDep, board: BoardDep, contexts: ContextsDep
) -> ContextResponse:
    """What a voting client needs to encrypt: manifest, trustees (with their commitments and
    proofs), threshold, election hash and the board's public key. Public."""
    try:
        election = await public_election(database, contexts, election_id=election_id)
    except BallotBoxError as error:
        raise problem_from(error) from None
    return ContextResponse(
        election_id=election_id,
        state=election.state,
        allow_revoting=election.allow_revoting,
        manifest=election.context.manifest.to_json(),
        trustees=trustees_document(election.context),
        threshold=election.context.threshold,
        election_hash=election.election_hash.hex(),
        joint_key=election.context.joint_key.hex(),
        board_public_key=board.key.public_key.hex(),
    )


@router.post(
    "/cast",
    response_model=CastResponse,
    status_code=201,
    responses={200: {"description": "a retry: the receipt given before"}},
)
async def cast(
    election_id: ElectionId,
    body: CastRequest,
    voter: VoterForElection,
    database: DatabaseDep,
    board: BoardDep,
    contexts: ContextsDep,
    casts: CastsDep,
    verifier: VerifierDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CastResponse:
    """Verify and cast an encrypted ballot; answer its signed receipt."""
    assert voter.credential is not None
    try:
        result = await cast_ballot(
            database,
            board,
            contexts,
            casts,
            verifier,
            election_id=election_id,
            credential=voter.credential,
            document=body.ballot,
            idempotency_key=idempotency_key,
        )
    except BallotBoxError as error:
        raise problem_from(error) from None
    if result.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    else:
        BALLOTS_CAST.inc()
    return CastResponse(
        receipt=ReceiptOut(**result.receipt.to_json()),
        inclusion_proof=[node.hex() for node in result.inclusion_proof],
        board_public_key=board.key.public_key.hex(),
    )


@router.post("/spoil", response_model=SpoilResponse, status_code=201)
async def spoil(
    election_id: ElectionId,
    body: SpoilRequest,
    voter: VoterForElection,
    database: DatabaseDep,
    contexts: ContextsDep,
) -> SpoilResponse:
    """Publish a Benaloh-audited ballot (seed and choices revealed); it is never counted."""
    assert voter.credential is not None
    try:
        tracker = await spoil_ballot(
            database,
            contexts,
            election_id=election_id,
            credential=voter.credential,
            document=body.ballot,
            seed=bytes.fromhex(body.seed),
            choices=body.choices,
        )
    except BallotBoxError as error:
        raise problem_from(error) from None
    return SpoilResponse(tracker=tracker.hex())
