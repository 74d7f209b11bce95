"""Group commit: the casts to one election that queue while a cast transaction runs go to the
database together, in the next one (docs/adr/0013-group-commit.md).

Casts to one election are serialised by its board row lock, which is held until the commit is
durable. One transaction per ballot pays for a commit flush per ballot while every other cast
waits for it. Here each election has a queue in this process: a cast that finds a transaction
in flight waits for it, then goes with every cast that queued meanwhile (up to ``MAX_BATCH``)
as one transaction: one lock, one flush, one round trip. A lone cast goes at once, so an idle
box adds no delay. Each ballot gets its own outcome, exactly as if cast alone in that order.

If a batch fails as a whole (a constraint the checks under the lock did not foresee, a lost
connection), nothing of it was acknowledged, and each of its casts is tried again alone, so
that only a cast that fails by itself gets the error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Text, bindparam, insert, null, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA
from sqlalchemy.ext.asyncio import AsyncSession

from securevote.db import Database
from securevote.logging import get_logger
from voting_service.board import MAX_RETURNED_LEAVES, Board, lock_board
from voting_service.elections import read_election
from voting_service.metrics import CAST_BATCH_SIZE
from voting_service.models import Ballot, BoardState, CountedBallot, SpoiledBallot

log = get_logger(__name__)

#: the most casts one transaction takes (a batch holds the board lock while it runs)
MAX_BATCH = 64


@dataclass(frozen=True)
class PendingCast:
    """A verified ballot, ready for the board."""

    credential: str
    tracker: bytes
    leaf: bytes
    canonical: str
    idempotency_key: str | None


@dataclass(frozen=True)
class Stored:
    """What the transaction did with one cast: ``cast`` (at ``index``), ``replay`` (the ballot
    was on the board already, at ``index``) or a refusal (nothing changed; ``index`` is -1):
    ``not_found``, ``context_changed``, ``box_closed``, ``idempotency_key_reused``,
    ``ballot_spoiled`` or ``voted``."""

    outcome: str
    index: int


@dataclass(frozen=True)
class _Batch:
    """The outcomes of a batch, in its order, and the committed leaf hashes of the indexes
    from ``known`` up to its first index (None if they were not read)."""

    stored: list[Stored]
    leaves: list[bytes] | None


#: a queued cast and the future its request waits on
_Waiter = tuple[PendingCast, "asyncio.Future[Stored]"]


class CastQueue:
    """One queue of casts per election and context in this process (see the module)."""

    def __init__(self, database: Database, board: Board) -> None:
        self.database = database
        self.board = board
        self._waiting: dict[tuple[str, str], list[_Waiter]] = {}
        self._draining: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def cast(self, *, election_id: str, election_hash: bytes, item: PendingCast) -> Stored:
        """Store ``item`` with the next batch of its election; its outcome. The Merkle tree of
        the board already holds the ballot when this returns ``cast`` or ``replay``."""
        key = (election_id, election_hash.hex())
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append((item, future))
        if key not in self._draining:
            self._draining[key] = asyncio.create_task(self._drain(key))
        return await future

    async def _drain(self, key: tuple[str, str]) -> None:
        batch: list[_Waiter] = []
        try:
            while waiting := self._waiting.get(key):
                batch, self._waiting[key] = waiting[:MAX_BATCH], waiting[MAX_BATCH:]
                await self._store(key, batch)
                batch = []
        finally:
            # No await between the empty queue and here: a cast queued later starts a new task.
            # Only a cancelled task (the process stopping) leaves casts behind; none of them was
            # acknowledged, and a retry with the same key finds any that was stored.
            for _, future in batch + self._waiting.pop(key, []):
                future.cancel()
            del self._draining[key]

    async def _store(
        self,
        key: tuple[str, str],
        batch: list[_Waiter],
    ) -> None:
        election_id, election_hash = key
        items = [item for item, _ in batch]
        known = self.board.size(election_id)
        try:
            result = await store_batch(
                self.database,
                election_id=election_id,
                election_hash=election_hash,
                items=items,
                known=known,
            )
        except Exception as error:
            if len(batch) > 1:
                # The error's text may quote a row's values: only its kind is logged.
                log.warning(
                    "cast_batch_failed",
                    election_id=election_id,
                    casts=len(batch),
                    error=type(error).__name__,
                )
                for one in batch:
                    await self._store(key, [one])
                return
            _settle(batch[0][1], error=error)
            return
        CAST_BATCH_SIZE.observe(len(batch))
        if result.leaves is not None:
            appended = [
                item.leaf
                for item, stored in zip(items, result.stored, strict=True)
                if stored.outcome == "cast"
            ]
            await self.board.extend(election_id, known=known, leaves=result.leaves + appended)
        for (_, future), stored in zip(batch, result.stored, strict=True):
            _settle(future, result=stored)


def _settle(
    future: asyncio.Future[Stored], *, result: Stored | None = None, error: Exception | None = None
) -> None:
    if future.done():  # the request went away; what was stored stays, a retry replays it
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)


async def store_batch(
    database: Database,
    *,
    election_id: str,
    election_hash: str,
    items: Sequence[PendingCast],
    known: int,
) -> _Batch:
    """The cast transaction of ADR 0008 for every item in turn; ``known`` is the size of this
    process's cached tree. On PostgreSQL one call of ``ballot_box_cast_many`` (migration 0013)
    in autocommit mode: the board row is locked only while the server runs it."""
    if database.dialect != "postgresql":
        return await _store_in_sqlite(
            database, election_id=election_id, election_hash=election_hash, items=items, known=known
        )
    async with database.one_statement() as connection:
        row = (
            await connection.execute(
                _CAST_MANY_CALL,
                {
                    "election_id": election_id,
                    "election_hash": election_hash,
                    "credentials": [item.credential for item in items],
                    "trackers": [item.tracker for item in items],
                    "leaves": [item.leaf for item in items],
                    "ballots": [item.canonical for item in items],
                    "keys": [item.idempotency_key for item in items],
                    "known": known,
                },
            )
        ).one()
    stored = [
        Stored(outcome, -1 if index is None else int(index))
        for outcome, index in zip(row[0], row[1], strict=True)
    ]
    return _Batch(stored, None if row[2] is None else [bytes(value) for value in row[2]])


_TEXTS = ARRAY(Text)
_BYTES = ARRAY(BYTEA)
_CAST_MANY_CALL = text(
    "SELECT outcomes, board_indexes, leaves FROM ballot_box_cast_many(:election_id, "
    ":election_hash, :credentials, :trackers, :leaves, :ballots, :keys, :known)"
).bindparams(
    bindparam("credentials", type_=_TEXTS),
    bindparam("trackers", type_=_BYTES),
    bindparam("leaves", type_=_BYTES),
    bindparam("ballots", type_=_TEXTS),
    bindparam("keys", type_=_TEXTS),
)


async def _store_in_sqlite(
    database: Database,
    *,
    election_id: str,
    election_hash: str,
    items: Sequence[PendingCast],
    known: int,
) -> _Batch:
    """The steps of ``ballot_box_cast_many``, as statements in one ``BEGIN IMMEDIATE``
    transaction (which holds SQLite's write lock from its first statement, ADR 0002)."""
    async with database.session() as session:
        row = await read_election(session, election_id, lock=True)
        if row is None:
            return _refused(items, "not_found")
        if row.election_hash != election_hash:
            return _refused(items, "context_changed")
        if row.state != "open":
            return _refused(items, "box_closed")
        state = await lock_board(session, election_id)
        if state.sealed:
            return _refused(items, "box_closed")
        first = next_index = state.size
        stored = []
        for item in items:
            outcome = await _check_in_sqlite(
                session, election_id, item, allow_revoting=row.allow_revoting
            )
            if outcome.outcome == "cast":
                await _append_in_sqlite(session, election_id, item, next_index, outcome.index)
                outcome = Stored("cast", next_index)
                next_index += 1
            stored.append(outcome)
        if next_index > first:
            await session.execute(
                update(BoardState)
                .where(BoardState.election_id == election_id)
                .values(size=next_index)
            )
        return _Batch(stored, await _leaves(session, election_id, known, first))


def _refused(items: Sequence[PendingCast], refusal: str) -> _Batch:
    return _Batch([Stored(refusal, -1)] * len(items), None)


async def _check_in_sqlite(
    session: AsyncSession, election_id: str, item: PendingCast, *, allow_revoting: bool
) -> Stored:
    """The checks under the lock; ``cast`` with the credential's counted index (-1 if none)
    when the ballot may be appended."""
    same = (
        select(Ballot.board_index)
        .where(Ballot.election_id == election_id, Ballot.tracker == item.tracker)
        .scalar_subquery()
    )
    key_used = (
        null()
        if item.idempotency_key is None
        else select(Ballot.board_index)
        .where(
            Ballot.election_id == election_id,
            Ballot.credential == item.credential,
            Ballot.idempotency_key == item.idempotency_key,
        )
        .scalar_subquery()
    )
    spoiled = (
        select(SpoiledBallot.id)
        .where(SpoiledBallot.election_id == election_id, SpoiledBallot.tracker == item.tracker)
        .scalar_subquery()
    )
    counted = (
        select(CountedBallot.board_index)
        .where(
            CountedBallot.election_id == election_id, CountedBallot.credential == item.credential
        )
        .scalar_subquery()
    )
    found = (await session.execute(select(same, key_used, spoiled, counted))).one()
    if found[0] is not None:
        return Stored("replay", int(found[0]))
    if found[1] is not None:
        return Stored("idempotency_key_reused", -1)
    if found[2] is not None:
        return Stored("ballot_spoiled", -1)
    if found[3] is not None and not allow_revoting:
        return Stored("voted", -1)
    return Stored("cast", -1 if found[3] is None else int(found[3]))


async def _append_in_sqlite(
    session: AsyncSession, election_id: str, item: PendingCast, index: int, counted: int
) -> None:
    await session.execute(
        insert(Ballot).values(
            election_id=election_id,
            board_index=index,
            credential=item.credential,
            tracker=item.tracker,
            leaf_hash=item.leaf,
            ballot=item.canonical,
            idempotency_key=item.idempotency_key,
        )
    )
    if counted < 0:
        await session.execute(
            insert(CountedBallot).values(
                election_id=election_id, credential=item.credential, board_index=index
            )
        )
    else:
        await session.execute(
            update(CountedBallot)
            .where(
                CountedBallot.election_id == election_id,
                CountedBallot.credential == item.credential,
            )
            .values(board_index=index)
        )


async def _leaves(
    session: AsyncSession, election_id: str, known: int, first: int
) -> list[bytes] | None:
    """The committed leaf hashes of indexes [known, first), or None past the limit."""
    if known < 0 or not 0 <= first - known <= MAX_RETURNED_LEAVES:
        return None
    if first == known:
        return []
    rows = await session.scalars(
        select(Ballot.leaf_hash)
        .where(Ballot.election_id == election_id)
        .where(Ballot.board_index >= known, Ballot.board_index < first)
        .order_by(Ballot.board_index)
    )
    return [bytes(value) for value in rows]
