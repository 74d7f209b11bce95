"""The ballot box: cast, spoil, and read the board. Keyword-only functions, no HTTP types.

Exactly once, by the database (docs/adr/0008-ballot-box.md):

- proofs are verified *before* the transaction (they take milliseconds; ``verifier``);
- the cast transaction locks the election row ``FOR SHARE`` (the box cannot close under it),
  then the election's ``board_state`` row ``FOR UPDATE`` (appends to one board queue there),
  checks what concurrent casts committed, takes the next board index, stores the ballot and
  points ``counted_ballots`` at it. Casts that queue meanwhile share the next transaction
  (``group_commit``, ADR 0013); on PostgreSQL it is one call of ``ballot_box_cast_many``, so
  the board row is never locked across a round trip (ADR 0012);
- ``ballots`` has primary key (election_id, board_index): an index is used once;
  ``counted_ballots`` has primary key (election_id, credential): one counted ballot per voter.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    and_,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from securevote.ballots import (
    BallotError,
    ElectionContext,
    EncryptedBallot,
    spoiled_ballot_problems,
)
from securevote.crypto.hashing import canonical_json
from securevote.crypto.merkle import MerkleTree, leaf_hash
from securevote.db import Database
from securevote.logging import get_logger
from securevote.record import context_from_documents
from securevote.voter import Receipt
from voting_service.board import Board, lock_board
from voting_service.elections import ELECTIONS, read_election
from voting_service.group_commit import CastQueue, PendingCast
from voting_service.models import Ballot, BoardHead, BoardState, CountedBallot, SpoiledBallot
from voting_service.verifier import BallotVerifier, CheckedBallot, RefusedBallot

log = get_logger(__name__)


class BallotBoxError(Exception):
    """A refusal the client may know about; ``status`` is the HTTP status it maps to."""

    def __init__(self, status: int, detail: str, *, code: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code


def _not_found() -> BallotBoxError:
    return BallotBoxError(404, "No such election.", code="election_not_found")


def _no_context() -> BallotBoxError:
    return BallotBoxError(
        409, "This election has no key yet (the key ceremony is not done).", code="no_context"
    )


def _box_closed() -> BallotBoxError:
    return BallotBoxError(409, "The ballot box of this election is not open.", code="box_closed")


@dataclass(frozen=True)
class PublicElection:
    election_id: str
    state: str
    allow_revoting: bool
    context: ElectionContext
    context_document: Mapping[str, Any]
    election_hash: bytes


class ContextCache:
    """Parsed election contexts, keyed by (election id, election hash): a context never
    changes once its hash is set, and parsing it (points, proofs) is not free."""

    def __init__(self) -> None:
        self._contexts: dict[tuple[str, str], ElectionContext] = {}
        self._open: dict[str, PublicElection] = {}

    def recent_open(self, election_id: str) -> PublicElection | None:
        """The election as last seen open by this process: casting may skip its first read
        (the cast transaction re-checks the state and the election hash)."""
        return self._open.get(election_id)

    def remember(self, election: PublicElection) -> None:
        if election.state == "open":
            self._open[election.election_id] = election
        else:
            self._open.pop(election.election_id, None)

    def forget(self, election_id: str) -> None:
        self._open.pop(election_id, None)

    def get(
        self, election_id: str, election_hash: str, document: Mapping[str, Any]
    ) -> ElectionContext:
        key = (election_id, election_hash)
        context = self._contexts.get(key)
        if context is None:
            try:
                context = context_from_documents(**document)
            except (TypeError, ValueError) as error:
                log.error("election_context_unusable", election_id=election_id, exc_info=error)
                raise BallotBoxError(
                    409, "This election's context is not usable.", code="context_invalid"
                ) from None
            if context.election_hash.hex() != election_hash:
                log.error("election_hash_mismatch", election_id=election_id)
                raise BallotBoxError(
                    409, "This election's context is not usable.", code="context_invalid"
                )
            self._contexts[key] = context
        return context


async def public_election(
    database: Database,
    contexts: ContextCache,
    *,
    election_id: str,
    session: AsyncSession | None = None,
) -> PublicElection:
    """The election's public context (parsed once per process); 404 or 409 if there is none.
    Reads in ``session`` if given, else in a transaction of its own."""
    if session is None:
        async with database.session() as own:
            row = await read_election(own, election_id, lock=False)
    else:
        row = await read_election(session, election_id, lock=False)
    if row is None:
        raise _not_found()
    if row.context_document is None or row.election_hash is None:
        raise _no_context()
    context = contexts.get(election_id, row.election_hash, row.context_document)
    return PublicElection(
        election_id=election_id,
        state=row.state,
        allow_revoting=row.allow_revoting,
        context=context,
        context_document=row.context_document,
        election_hash=bytes.fromhex(row.election_hash),
    )


# --------------------------------------------------------------------------- cast


@dataclass(frozen=True)
class CastResult:
    receipt: Receipt
    inclusion_proof: list[bytes]
    replayed: bool


def parse_ballot(document: object) -> EncryptedBallot:
    try:
        return EncryptedBallot.from_json(document)
    except BallotError as error:
        raise BallotBoxError(422, str(error), code="ballot_malformed") from None


async def _checked(
    verifier: BallotVerifier, document: object, credential: str, election: PublicElection
) -> CheckedBallot:
    # CPU work (a few ms), off the event loop; never in a transaction.
    checked = await verifier.check(
        document,
        credential=credential,
        manifest=election.context.manifest,
        joint_key=election.context.joint_key.encoding,
        election_hash=election.election_hash,
    )
    if isinstance(checked, RefusedBallot):
        raise BallotBoxError(422, checked.detail, code=checked.code)
    return checked


async def cast_ballot(
    database: Database,
    board: Board,
    contexts: ContextCache,
    casts: CastQueue,
    verifier: BallotVerifier,
    *,
    election_id: str,
    credential: str,
    document: object,
    idempotency_key: str | None,
) -> CastResult:
    """Verify and cast a ballot for ``credential``; return its signed receipt.

    Casting the same ballot again, or again with the same idempotency key, returns the same
    receipt and changes nothing (also after the box closed)."""
    election = contexts.recent_open(election_id)
    if election is None:
        election = await public_election(database, contexts, election_id=election_id)
        contexts.remember(election)
    checked = await _checked(verifier, document, credential, election)
    tracker = checked.tracker
    leaf = leaf_hash(tracker)
    try:
        if election.state != "open":
            raise _box_closed()
        stored = await casts.cast(
            election_id=election_id,
            election_hash=election.election_hash,
            item=PendingCast(credential, tracker, leaf, checked.canonical, idempotency_key),
        )
        if stored.outcome not in {"cast", "replay"}:
            raise _REFUSALS[stored.outcome]()
    except BallotBoxError as error:
        if error.code not in {"box_closed", "context_changed"}:
            raise
        contexts.forget(election_id)
        # A retry of a ballot cast before the box closed still gets its receipt.
        async with database.session() as session:
            rows = await _earlier_rows(
                session,
                election_id=election_id,
                credential=credential,
                tracker=tracker,
                idempotency_key=idempotency_key,
            )
        earlier = await _earlier_cast(
            database, board, election=election, tracker=tracker, rows=rows
        )
        if earlier is None:
            raise
        return earlier
    except IntegrityError:
        # Only a race the row lock does not cover (it covers every one we know of) gets here;
        # nothing was stored. The client retries with the same idempotency key.
        log.warning("cast_conflict", election_id=election_id)
        raise BallotBoxError(
            409, "A concurrent request conflicted; retry.", code="cast_conflict"
        ) from None
    index, replayed = stored.index, stored.outcome == "replay"
    tree = await board.tree_after_append(database, election_id, index=index, leaf=leaf)
    receipt = board.receipt(
        election_hash=election.election_hash, tracker=tracker, index=index, tree=tree
    )
    if not replayed:
        # Credential-free: the tracker and index are public, the voter is not named.
        log.info("ballot_cast", election_id=election_id, board_index=index)
    return CastResult(receipt, tree.inclusion_proof(index, index + 1), replayed)


_REFUSALS: dict[str, Callable[[], BallotBoxError]] = {
    "not_found": _not_found,
    "context_changed": lambda: BallotBoxError(
        409, "The election's context changed; fetch it again.", code="context_changed"
    ),
    "box_closed": _box_closed,
    "idempotency_key_reused": lambda: BallotBoxError(
        422, "This idempotency key was used for another ballot.", code="idempotency_key_reused"
    ),
    "ballot_spoiled": lambda: BallotBoxError(
        409,
        "This ballot was spoiled (its contents are public); encrypt afresh.",
        code="ballot_spoiled",
    ),
    "voted": lambda: BallotBoxError(409, "You have already voted in this election.", code="voted"),
}


async def _earlier_rows(
    session: AsyncSession,
    *,
    election_id: str,
    credential: str,
    tracker: bytes,
    idempotency_key: str | None,
) -> list[tuple[int, bytes, bytes]]:
    """(index, tracker, leaf hash) of this very ballot, or of the ballot cast earlier with
    this idempotency key, if on the board (a retried request)."""
    condition = and_(Ballot.election_id == election_id, Ballot.tracker == tracker)
    if idempotency_key is not None:
        condition = or_(
            condition,
            and_(
                Ballot.election_id == election_id,
                Ballot.credential == credential,
                Ballot.idempotency_key == idempotency_key,
            ),
        )
    rows = (
        await session.execute(
            select(Ballot.board_index, Ballot.tracker, Ballot.leaf_hash).where(condition)
        )
    ).all()
    return [(int(row[0]), bytes(row[1]), bytes(row[2])) for row in rows]


async def _earlier_cast(
    database: Database,
    board: Board,
    *,
    election: PublicElection,
    tracker: bytes,
    rows: list[tuple[int, bytes, bytes]],
) -> CastResult | None:
    """The receipt of a retried request; 422 if its key was used for another ballot."""
    if not rows:
        return None
    if any(not same_bytes(row[1], tracker) for row in rows):
        raise BallotBoxError(
            422, "This idempotency key was used for another ballot.", code="idempotency_key_reused"
        )
    index, leaf = rows[0][0], rows[0][2]
    tree = await board.tree_after_append(database, election.election_id, index=index, leaf=leaf)
    receipt = board.receipt(
        election_hash=election.election_hash, tracker=tracker, index=index, tree=tree
    )
    return CastResult(receipt, tree.inclusion_proof(index, index + 1), True)


# --------------------------------------------------------------------------- spoil


async def spoil_ballot(
    database: Database,
    contexts: ContextCache,
    *,
    election_id: str,
    credential: str,
    document: object,
    seed: bytes,
    choices: Mapping[str, Sequence[str]],
) -> bytes:
    """Check a Benaloh-audited ballot and publish it as spoiled; return its tracker."""
    election = await public_election(database, contexts, election_id=election_id)
    if election.state != "open":
        raise _box_closed()
    ballot = parse_ballot(document)
    if ballot.credential != credential:
        raise BallotBoxError(422, "ballot is for another voter credential", code="ballot_invalid")
    problems = await asyncio.to_thread(
        spoiled_ballot_problems,
        ballot,
        manifest=election.context.manifest,
        public_key=election.context.joint_key,
        election_hash=election.election_hash,
        seed=seed,
        choices=choices,
    )
    if problems:
        raise BallotBoxError(422, "; ".join(problems), code="spoiled_ballot_invalid")
    tracker = ballot.tracker
    normalised = {q: sorted(options) for q, options in choices.items()}
    async with database.session() as session:
        row = await read_election(session, election_id, lock=True)
        if row is None or row.state != "open":
            raise _box_closed()
        await lock_board(session, election_id)  # orders spoiling with casting of the same ballot
        on_board = await session.scalar(
            select(Ballot.board_index).where(
                Ballot.election_id == election_id, Ballot.tracker == tracker
            )
        )
        if on_board is not None:
            raise BallotBoxError(
                409, "This ballot was cast; a cast ballot cannot be spoiled.", code="ballot_cast"
            )
        already = await session.scalar(
            select(SpoiledBallot.id).where(
                SpoiledBallot.election_id == election_id, SpoiledBallot.tracker == tracker
            )
        )
        if already is None:
            await session.execute(
                insert(SpoiledBallot).values(
                    election_id=election_id,
                    tracker=tracker,
                    ballot=ballot.canonical_bytes().decode(),
                    seed=seed,
                    choices=canonical_json(normalised).decode(),
                )
            )
    log.info("ballot_spoiled", election_id=election_id)
    return tracker


# --------------------------------------------------------------------------- board reads


@dataclass(frozen=True)
class BoardEntry:
    board_index: int
    tracker: bytes
    ballot: str
    counted: bool


async def board_page(
    session: AsyncSession, *, election_id: str, after: int, limit: int
) -> list[BoardEntry]:
    """Board entries with index > ``after``, in board order (keyset pagination)."""
    query = (
        select(
            Ballot.board_index,
            Ballot.tracker,
            Ballot.ballot,
            CountedBallot.board_index.is_not(None),
        )
        .select_from(
            Ballot.__table__.outerjoin(
                CountedBallot.__table__,
                and_(
                    CountedBallot.election_id == Ballot.election_id,
                    CountedBallot.board_index == Ballot.board_index,
                ),
            )
        )
        .where(Ballot.election_id == election_id, Ballot.board_index > after)
        .order_by(Ballot.board_index)
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    return [BoardEntry(int(r[0]), bytes(r[1]), r[2], bool(r[3])) for r in rows]


@dataclass(frozen=True)
class TrackerEntry:
    """A tracker look-up: the election's hash, where the tracker is on the board (None if it
    is not), whether it counts, the board's size and the latest signed head (None if none)."""

    election_hash: bytes
    board_index: int | None
    counted: bool
    board_size: int
    head: BoardHead | None


async def find_tracker(database: Database, *, election_id: str, tracker: bytes) -> TrackerEntry:
    """Everything a tracker look-up needs, in one statement; 404/409 as ``public_election``."""
    ballots, counted, heads = Ballot.__table__, CountedBallot.__table__, BoardHead.__table__
    latest = (
        select(func.max(heads.c.id)).where(heads.c.election_id == election_id)
    ).scalar_subquery()
    # A correlated scalar subquery, not EXISTS: PostgreSQL may run an EXISTS as a hash of all
    # the election's counted ballots; this is one probe of (election_id, board_index).
    is_counted = (
        select(counted.c.board_index)
        .where(
            counted.c.election_id == election_id,
            counted.c.board_index == ballots.c.board_index,
        )
        .scalar_subquery()
        .is_not(None)
    )
    query = (
        select(
            ELECTIONS.c.election_hash,
            ballots.c.board_index,
            is_counted,
            BoardState.size,
            *heads.c,
        )
        .select_from(ELECTIONS)
        .outerjoin(BoardState, BoardState.election_id == ELECTIONS.c.id)
        .outerjoin(
            ballots,
            and_(ballots.c.election_id == ELECTIONS.c.id, ballots.c.tracker == tracker),
        )
        .outerjoin(heads, heads.c.id == latest)
        .where(ELECTIONS.c.id == election_id)
    )
    async with database.one_statement() as connection:
        row = (await connection.execute(query)).one_or_none()
    if row is None:
        raise _not_found()
    if row[0] is None:
        raise _no_context()
    head = row._mapping
    return TrackerEntry(
        election_hash=bytes.fromhex(row[0]),
        board_index=None if row[1] is None else int(row[1]),
        counted=bool(row[2]),
        board_size=int(row[3] or 0),
        head=None
        if head[heads.c.id] is None
        else BoardHead(**{column.key: head[column] for column in heads.c}),
    )


async def spoiled_page(
    session: AsyncSession, *, election_id: str, after: int, limit: int
) -> list[SpoiledBallot]:
    rows = await session.scalars(
        select(SpoiledBallot)
        .where(SpoiledBallot.election_id == election_id, SpoiledBallot.id > after)
        .order_by(SpoiledBallot.id)
        .limit(limit)
    )
    return list(rows)


def consistency(tree: MerkleTree, first: int, second: int) -> list[bytes]:
    return tree.consistency_proof(first, second)


def same_bytes(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
