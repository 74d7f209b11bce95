"""The ballot box: cast, spoil, and read the board. Keyword-only functions, no HTTP types.

Exactly once, by the database (docs/adr/0008-ballot-box.md):

- proofs are verified *before* the transaction (they take milliseconds);
- the cast transaction locks the election row ``FOR SHARE`` (the box cannot close under it),
  then the election's ``board_state`` row ``FOR UPDATE`` (appends to one board queue there),
  checks what concurrent casts committed, takes the next board index, stores the ballot and
  points ``counted_ballots`` at it. On PostgreSQL that is one call of the ``ballot_box_cast``
  function, so the board row is never locked across a round trip (ADR 0012);
- ``ballots`` has primary key (election_id, board_index): an index is used once;
  ``counted_ballots`` has primary key (election_id, credential): one counted ballot per voter.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    MetaData,
    String,
    Table,
    and_,
    func,
    insert,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from securevote.ballots import (
    BallotError,
    ElectionContext,
    EncryptedBallot,
    ballot_problems,
    spoiled_ballot_problems,
)
from securevote.crypto.hashing import canonical_json
from securevote.crypto.merkle import MerkleTree, leaf_hash
from securevote.db import Database
from securevote.logging import get_logger
from securevote.record import context_from_documents
from securevote.voter import Receipt
from voting_service.board import MAX_RETURNED_LEAVES, Board, lock_board
from voting_service.models import Ballot, BoardHead, BoardState, CountedBallot, SpoiledBallot

log = get_logger(__name__)

# The election service owns this table; the voting service only reads it, inside its own
# transactions (DESIGN §2 ownership rule). A separate MetaData keeps it out of our models.
_elections = Table(
    "elections",
    MetaData(),
    Column("id", String(36), primary_key=True),
    Column("state", String(16)),
    Column("allow_revoting", Boolean),
    Column("context_document", JSON),
    Column("election_hash", String(64)),
)


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
class ElectionRow:
    id: str
    state: str
    allow_revoting: bool
    context_document: Mapping[str, Any] | None
    election_hash: str | None


async def read_election(
    session: AsyncSession, election_id: str, *, lock: bool
) -> ElectionRow | None:
    """The election's row; ``lock`` takes a share lock on it (PostgreSQL; SQLite's write lock
    already serialises) so that the election cannot change state until this transaction ends.
    The lock goes through ``ballot_box_lock_election`` (migration 0011): a row lock needs an
    UPDATE privilege the voting role does not have on ``elections``."""
    if lock and session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT ballot_box_lock_election(:id)"), {"id": election_id})
    query = select(_elections).where(_elections.c.id == election_id)
    row = (await session.execute(query)).mappings().one_or_none()
    if row is None:
        return None
    return ElectionRow(
        id=row["id"],
        state=row["state"],
        allow_revoting=bool(row["allow_revoting"]),
        context_document=row["context_document"],
        election_hash=row["election_hash"],
    )


async def elections_with_boards(session: AsyncSession) -> list[tuple[str, str, bytes]]:
    """(id, state, election hash) of the elections the board-heads job has work for: open
    ones with a board, and closed ones whose board is not sealed yet."""
    query = (
        select(_elections.c.id, _elections.c.state, _elections.c.election_hash)
        .select_from(_elections.outerjoin(BoardState, BoardState.election_id == _elections.c.id))
        .where(_elections.c.election_hash.is_not(None))
        .where(
            or_(
                and_(_elections.c.state == "open", BoardState.election_id.is_not(None)),
                and_(
                    _elections.c.state.in_(("closed", "tallied", "published")),
                    or_(BoardState.sealed.is_(None), BoardState.sealed.is_(False)),
                ),
            )
        )
    )
    rows = (await session.execute(query)).all()
    return [(row[0], row[1], bytes.fromhex(row[2])) for row in rows]


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


async def _verify(ballot: EncryptedBallot, election: PublicElection, credential: str) -> None:
    # CPU work (a few ms): in a thread, so the event loop keeps serving; never in a transaction.
    problems = await asyncio.to_thread(
        ballot_problems,
        ballot,
        manifest=election.context.manifest,
        public_key=election.context.joint_key,
        election_hash=election.election_hash,
        credential=credential,
    )
    if problems:
        raise BallotBoxError(422, "; ".join(problems), code="ballot_invalid")


async def cast_ballot(
    database: Database,
    board: Board,
    contexts: ContextCache,
    *,
    election_id: str,
    credential: str,
    document: object,
    idempotency_key: str | None,
) -> CastResult:
    """Verify and cast a ballot for ``credential``; return its signed receipt.

    Casting the same ballot again, or again with the same idempotency key, returns the same
    receipt and changes nothing."""
    ballot = parse_ballot(document)
    if ballot.credential != credential:
        raise BallotBoxError(422, "ballot is for another voter credential", code="ballot_invalid")
    canonical = ballot.canonical_bytes().decode()
    tracker = ballot.tracker
    election = contexts.recent_open(election_id)
    if election is None:
        async with database.session() as session:  # one short read: election, any retry
            election = await public_election(
                database, contexts, election_id=election_id, session=session
            )
            rows = await _earlier_rows(
                session,
                election_id=election_id,
                credential=credential,
                tracker=tracker,
                idempotency_key=idempotency_key,
            )
        contexts.remember(election)
        earlier = await _earlier_cast(
            database, board, election=election, tracker=tracker, rows=rows
        )
        if earlier is not None:  # a retry: the same receipt, without verifying again
            return earlier
        if election.state != "open":
            raise _box_closed()
    await _verify(ballot, election, credential)
    leaf = leaf_hash(tracker)
    known = board.size(election_id)
    try:
        stored = await _store(
            database,
            election=election,
            credential=credential,
            tracker=tracker,
            leaf=leaf,
            canonical=canonical,
            idempotency_key=idempotency_key,
            known=known,
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
    tree = await board.tree_after_append(
        database, election_id, index=index, leaf=leaf, known=known, leaves=stored.leaves
    )
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


@dataclass(frozen=True)
class _Stored:
    """What the cast transaction did: ``cast`` (at ``index``), ``replay`` (this ballot was on
    the board already, at ``index``) or a refusal (a key of ``_REFUSALS``; nothing changed).
    ``leaves``: the committed leaf hashes of indexes [known, index), if they were read."""

    outcome: str
    index: int
    leaves: list[bytes] | None = None


_CAST_CALL = text(
    "SELECT outcome, board_index, leaves FROM ballot_box_cast(:election_id, :election_hash, "
    ":credential, :tracker, :leaf, :ballot, :idempotency_key, :known)"
)


async def _store(
    database: Database,
    *,
    election: PublicElection,
    credential: str,
    tracker: bytes,
    leaf: bytes,
    canonical: str,
    idempotency_key: str | None,
    known: int,
) -> _Stored:
    """The cast transaction of ADR 0008; ``known`` is the size of this process's cached tree.

    On PostgreSQL it is one call of ``ballot_box_cast`` (migration 0011) in an implicit
    transaction of its own: the board row is locked only while the server runs it, never
    across a round trip to this process (docs/adr/0012-cast-in-one-statement.md)."""
    if database.dialect != "postgresql":
        return await _store_in_sqlite(
            database,
            election=election,
            credential=credential,
            tracker=tracker,
            leaf=leaf,
            canonical=canonical,
            idempotency_key=idempotency_key,
            known=known,
        )
    async with one_statement(database) as connection:
        row = (
            await connection.execute(
                _CAST_CALL,
                {
                    "election_id": election.election_id,
                    "election_hash": election.election_hash.hex(),
                    "credential": credential,
                    "tracker": tracker,
                    "leaf": leaf,
                    "ballot": canonical,
                    "idempotency_key": idempotency_key,
                    "known": known,
                },
            )
        ).one()
    leaves = None if row[2] is None else [bytes(value) for value in row[2]]
    return _Stored(row[0], -1 if row[1] is None else int(row[1]), leaves)


async def _store_in_sqlite(
    database: Database,
    *,
    election: PublicElection,
    credential: str,
    tracker: bytes,
    leaf: bytes,
    canonical: str,
    idempotency_key: str | None,
    known: int,
) -> _Stored:
    """The steps of ``ballot_box_cast``, as statements in one ``BEGIN IMMEDIATE`` transaction
    (which holds SQLite's write lock from its first statement, ADR 0002)."""
    election_id = election.election_id
    async with database.session() as session:
        row = await read_election(session, election_id, lock=True)
        if row is None:
            return _Stored("not_found", -1)
        if row.election_hash != election.election_hash.hex():
            return _Stored("context_changed", -1)
        if row.state != "open":
            return _Stored("box_closed", -1)
        state = await lock_board(session, election_id)
        if state.sealed:
            return _Stored("box_closed", -1)
        same = (
            select(Ballot.board_index)
            .where(Ballot.election_id == election_id, Ballot.tracker == tracker)
            .scalar_subquery()
        )
        key_used = (
            null()
            if idempotency_key is None
            else select(Ballot.board_index)
            .where(
                Ballot.election_id == election_id,
                Ballot.credential == credential,
                Ballot.idempotency_key == idempotency_key,
            )
            .scalar_subquery()
        )
        spoiled = (
            select(SpoiledBallot.id)
            .where(SpoiledBallot.election_id == election_id, SpoiledBallot.tracker == tracker)
            .scalar_subquery()
        )
        counted_index = (
            select(CountedBallot.board_index)
            .where(CountedBallot.election_id == election_id, CountedBallot.credential == credential)
            .scalar_subquery()
        )
        found = (await session.execute(select(same, key_used, spoiled, counted_index))).one()
        if found[0] is not None:
            index = int(found[0])
            return _Stored("replay", index, await _leaves(session, election_id, known, index))
        if found[1] is not None:
            return _Stored("idempotency_key_reused", -1)
        if found[2] is not None:
            return _Stored("ballot_spoiled", -1)
        counted = found[3]
        if counted is not None and not row.allow_revoting:
            return _Stored("voted", -1)
        index = state.size
        await session.execute(
            update(BoardState).where(BoardState.election_id == election_id).values(size=index + 1)
        )
        await session.execute(
            insert(Ballot).values(
                election_id=election_id,
                board_index=index,
                credential=credential,
                tracker=tracker,
                leaf_hash=leaf,
                ballot=canonical,
                idempotency_key=idempotency_key,
            )
        )
        if counted is None:
            await session.execute(
                insert(CountedBallot).values(
                    election_id=election_id, credential=credential, board_index=index
                )
            )
        else:
            await session.execute(
                update(CountedBallot)
                .where(
                    CountedBallot.election_id == election_id,
                    CountedBallot.credential == credential,
                )
                .values(board_index=index)
            )
        return _Stored("cast", index, await _leaves(session, election_id, known, index))


async def _leaves(
    session: AsyncSession, election_id: str, known: int, index: int
) -> list[bytes] | None:
    if known < 0 or not 0 < index - known <= MAX_RETURNED_LEAVES:
        return None
    rows = await session.scalars(
        select(Ballot.leaf_hash)
        .where(Ballot.election_id == election_id)
        .where(Ballot.board_index >= known, Ballot.board_index < index)
        .order_by(Ballot.board_index)
    )
    return [bytes(value) for value in rows]


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


@asynccontextmanager
async def one_statement(database: Database) -> AsyncIterator[AsyncConnection]:
    """A connection for one statement that is its own transaction: on PostgreSQL in autocommit
    mode (no BEGIN and COMMIT round trips, and a lock it takes ends with the statement); on
    SQLite, where there are no round trips, in the usual ``BEGIN IMMEDIATE`` transaction."""
    async with database.engine.connect() as connection:
        if database.dialect == "postgresql":
            await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


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
            _elections.c.election_hash,
            ballots.c.board_index,
            is_counted,
            BoardState.size,
            *heads.c,
        )
        .select_from(_elections)
        .outerjoin(BoardState, BoardState.election_id == _elections.c.id)
        .outerjoin(
            ballots,
            and_(ballots.c.election_id == _elections.c.id, ballots.c.tracker == tracker),
        )
        .outerjoin(heads, heads.c.id == latest)
        .where(_elections.c.id == election_id)
    )
    async with one_statement(database) as connection:
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
