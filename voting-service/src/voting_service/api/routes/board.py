"""The public bulletin board: ballots, tracker look-up with inclusion proofs, signed tree heads,
consistency proofs, spoiled ballots, the board key; and the seal (an administrator's nudge,
the board-heads job seals closed elections by itself). Nothing here names a voter beyond the
pseudonymous credential the protocol puts inside each ballot."""

from __future__ import annotations

import json
import re
from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from securevote.crypto.merkle import TreeHead
from securevote.deps import CurrentAdmin
from securevote.errors import Problem
from voting_service.api.deps import BoardDep, ContextsDep, DatabaseDep, ElectionId
from voting_service.api.problems import problem_from
from voting_service.board import (
    MIN_HEAD_INTERVAL_SECONDS,
    fresh_head,
    seal_board,
    tree_head,
)
from voting_service.models import BoardHead, BoardState
from voting_service.schemas import (
    BoardEntryOut,
    BoardKeyResponse,
    BoardPage,
    ConsistencyResponse,
    HeadEntry,
    HeadsPage,
    LatestHead,
    SpoiledEntry,
    SpoiledPage,
    TrackerResponse,
    TreeHeadOut,
)
from voting_service.service import (
    BallotBoxError,
    PublicElection,
    board_page,
    find_tracker,
    public_election,
    spoiled_page,
)

router = APIRouter(prefix="/api/ballots", tags=["board"])
BOARD = "/elections/{election_id}/board"
MAX_PAGE = 1000
_HEX32 = re.compile(r"^[0-9a-f]{64}$")

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


def _head_out(head: TreeHead) -> TreeHeadOut:
    return TreeHeadOut(**head.to_json())


async def _election(
    database: DatabaseDep, contexts: ContextsDep, election_id: str
) -> PublicElection:
    try:
        return await public_election(database, contexts, election_id=election_id)
    except BallotBoxError as error:
        raise problem_from(error) from None


@router.get("/board/key", response_model=BoardKeyResponse)
@router.get(BOARD + "/key", response_model=BoardKeyResponse)
async def board_key(board: BoardDep) -> BoardKeyResponse:
    """The board's Ed25519 public key: it signs tree heads and receipts (in the record)."""
    return BoardKeyResponse(public_key=board.key.public_key.hex())


@router.get(BOARD + "/ballots", response_model=BoardPage)
async def list_ballots(
    election_id: ElectionId,
    database: DatabaseDep,
    contexts: ContextsDep,
    after: Annotated[int, Query(ge=-1)] = -1,
    limit: Limit = 100,
) -> BoardPage:
    """Board entries in board order, from index ``after + 1``. Read from the read replica
    when there is one (``SECUREVOTE_READ_DATABASE_URL``): the newest entries may appear there
    a little later; look-ups, heads and proofs always read the primary."""
    await _election(database, contexts, election_id)
    async with database.read_session() as session:
        entries = await board_page(session, election_id=election_id, after=after, limit=limit)
    return BoardPage(
        entries=[
            BoardEntryOut(
                board_index=entry.board_index,
                tracker=entry.tracker.hex(),
                counted=entry.counted,
                ballot=json.loads(entry.ballot),
            )
            for entry in entries
        ],
        next_after=entries[-1].board_index if len(entries) == limit else None,
    )


@router.get(BOARD + "/trackers/{tracker}", response_model=TrackerResponse)
async def lookup_tracker(
    election_id: ElectionId,
    tracker: Annotated[str, Path(pattern=_HEX32.pattern)],
    database: DatabaseDep,
    board: BoardDep,
) -> TrackerResponse:
    """Where a tracker is on the board, with its inclusion proof under the latest signed head
    (a head is signed now if none covers the ballot yet). One database statement when a head
    covers the ballot and the tree is in this process's memory (ADR 0012)."""
    try:
        entry = await find_tracker(
            database, election_id=election_id, tracker=bytes.fromhex(tracker)
        )
    except BallotBoxError as error:
        raise problem_from(error) from None
    index, row = entry.board_index, entry.head
    if index is None:
        raise Problem(404, "This tracker is not on the board.", code="tracker_not_found")
    stale = row is not None and row.size < entry.board_size
    if row is None or row.size <= index or stale:
        # Sign now if no head covers the ballot; otherwise only if the last one is old enough.
        row = await fresh_head(
            database,
            board,
            election_id=election_id,
            election_hash=entry.election_hash,
            min_interval=0 if row is None or row.size <= index else MIN_HEAD_INTERVAL_SECONDS,
        )
    tree = board.cached_tree(election_id, at_least=row.size)
    if tree is None:
        async with database.session() as session:
            tree = await board.tree(session, election_id, at_least=row.size)
    return TrackerResponse(
        tracker=tracker,
        board_index=index,
        counted=entry.counted,
        head=_head_out(tree_head(row, entry.election_hash)),
        inclusion_proof=[node.hex() for node in tree.inclusion_proof(index, row.size)],
    )


@router.get(BOARD + "/heads/latest", response_model=LatestHead)
async def latest_head(
    election_id: ElectionId, database: DatabaseDep, board: BoardDep, contexts: ContextsDep
) -> LatestHead:
    """The latest signed tree head; a new one is signed if the board grew since the last one
    and that one is a few seconds old."""
    election = await _election(database, contexts, election_id)
    row = await fresh_head(
        database, board, election_id=election_id, election_hash=election.election_hash
    )
    return LatestHead(head=_head_out(tree_head(row, election.election_hash)), final=row.final)


@router.get(BOARD + "/heads", response_model=HeadsPage)
async def list_heads(
    election_id: ElectionId,
    database: DatabaseDep,
    board: BoardDep,
    contexts: ContextsDep,
    after: Annotated[int, Query(ge=0, description="number of heads to skip")] = 0,
    limit: Limit = 100,
) -> HeadsPage:
    """Signed heads in publication order, each with the consistency proof from the one before
    (as ``board/heads.json`` of the election record)."""
    election = await _election(database, contexts, election_id)
    async with database.session() as session:
        rows = list(
            await session.scalars(
                select(BoardHead)
                .where(BoardHead.election_id == election_id)
                .order_by(BoardHead.id)
                .offset(max(after - 1, 0))
                .limit(limit + (1 if after > 0 else 0))
            )
        )
        sealed = bool(
            await session.scalar(
                select(BoardState.sealed).where(BoardState.election_id == election_id)
            )
        )
        largest = max((row.size for row in rows), default=0)
        tree = await board.tree(session, election_id, at_least=largest)
    previous = rows.pop(0) if after > 0 and rows else None
    heads = []
    for row in rows:
        proof = None if previous is None else tree.consistency_proof(previous.size, row.size)
        heads.append(
            HeadEntry(
                head=_head_out(tree_head(row, election.election_hash)),
                consistency=None if proof is None else [node.hex() for node in proof],
                final=row.final,
            )
        )
        previous = row
    return HeadsPage(heads=heads, sealed=sealed)


@router.get(BOARD + "/consistency", response_model=ConsistencyResponse)
async def consistency(
    election_id: ElectionId,
    database: DatabaseDep,
    board: BoardDep,
    contexts: ContextsDep,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int, Query(ge=0)],
) -> ConsistencyResponse:
    """The RFC 9162 consistency proof between the trees of sizes ``first`` <= ``second``."""
    await _election(database, contexts, election_id)
    async with database.session() as session:
        size = (
            await session.scalar(
                select(BoardState.size).where(BoardState.election_id == election_id)
            )
        ) or 0
        if not first <= second <= size:
            raise Problem(
                422,
                f"Need 0 <= first <= second <= {size} (the board's size).",
                code="bad_sizes",
            )
        tree = await board.tree(session, election_id, at_least=second)
    return ConsistencyResponse(
        first=first,
        second=second,
        proof=[node.hex() for node in tree.consistency_proof(first, second)],
    )


@router.get(BOARD + "/spoiled", response_model=SpoiledPage)
async def list_spoiled(
    election_id: ElectionId,
    database: DatabaseDep,
    contexts: ContextsDep,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Limit = 100,
) -> SpoiledPage:
    """Spoiled (audited) ballots with their revealed seeds and choices; never counted."""
    await _election(database, contexts, election_id)
    async with database.read_session() as session:
        rows = await spoiled_page(session, election_id=election_id, after=after, limit=limit)
    return SpoiledPage(
        spoiled=[
            SpoiledEntry(
                id=row.id,
                tracker=bytes(row.tracker).hex(),
                ballot=json.loads(row.ballot),
                seed=bytes(row.seed).hex(),
                choices=json.loads(row.choices),
            )
            for row in rows
        ],
        next_after=rows[-1].id if len(rows) == limit else None,
    )


@router.post(BOARD + "/seal", response_model=LatestHead)
async def seal(
    election_id: ElectionId,
    admin: CurrentAdmin,
    database: DatabaseDep,
    board: BoardDep,
    contexts: ContextsDep,
) -> LatestHead:
    """Seal the board of a closed election now (idempotent; the board-heads job does it too)."""
    election = await _election(database, contexts, election_id)
    async with database.session() as session:
        row = await seal_board(
            session,
            election_id=election_id,
            board=board,
            election_hash=election.election_hash,
            actor=f"admin:{admin.subject}",
        )
    if row is None:
        raise Problem(409, "The election is not closed yet.", code="election_not_closed")
    return LatestHead(head=_head_out(tree_head(row, election.election_hash)), final=True)
