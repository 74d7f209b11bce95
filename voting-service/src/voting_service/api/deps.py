"""Dependency aliases of the voting service (the shared ones come from securevote.deps)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from securevote.auth import Principal
from securevote.db import Database
from securevote.deps import SessionDep, SettingsDep, get_principal, get_voter
from securevote.errors import Problem
from voting_service.board import Board
from voting_service.group_commit import CastQueue
from voting_service.service import ContextCache
from voting_service.verifier import BallotVerifier

__all__ = [
    "BoardDep",
    "CastsDep",
    "ContextsDep",
    "DatabaseDep",
    "ElectionId",
    "SessionDep",
    "SettingsDep",
    "VerifierDep",
    "VoterForElection",
]

ELECTION_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
MAX_CREDENTIAL_LENGTH = 200

ElectionId = Annotated[str, Path(pattern=ELECTION_ID_PATTERN, description="the election's id")]


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_board(request: Request) -> Board:
    board: Board = request.app.state.board
    return board


async def get_contexts(request: Request) -> ContextCache:
    contexts: ContextCache = request.app.state.contexts
    return contexts


async def get_casts(request: Request) -> CastQueue:
    casts: CastQueue = request.app.state.casts
    return casts


async def get_verifier(request: Request) -> BallotVerifier:
    verifier: BallotVerifier = request.app.state.verifier
    return verifier


async def voter_for_election(request: Request, election_id: ElectionId) -> Principal:
    """A voter session for the election in the path, with a usable credential (the shared
    checks are called directly: one dependency on the cast path instead of three)."""
    voter = await get_voter(await get_principal(request))
    if voter.election_id != election_id:
        raise Problem(403, "This voter session is for another election.", title="Forbidden")
    if not voter.credential or len(voter.credential) > MAX_CREDENTIAL_LENGTH:
        raise Problem(403, "This voter session carries no usable credential.", title="Forbidden")
    return voter


DatabaseDep = Annotated[Database, Depends(get_database)]
BoardDep = Annotated[Board, Depends(get_board)]
ContextsDep = Annotated[ContextCache, Depends(get_contexts)]
CastsDep = Annotated[CastQueue, Depends(get_casts)]
VerifierDep = Annotated[BallotVerifier, Depends(get_verifier)]
VoterForElection = Annotated[Principal, Depends(voter_for_election)]
