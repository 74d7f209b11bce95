"""The bulletin board: its signing key, the Merkle tree of each election's board (cached per
process), signed tree heads, consistency proofs and the seal.

The leaf hashes live in ``ballots`` in board order. A process builds each election's
``MerkleTree`` from them once (1M leaves take about a second) and then only appends the rows
added since; it only ever reads committed rows, and appends to a board are serialised by the
``board_state`` row lock, so when index ``i`` is visible every index below it is too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from securevote import audit
from securevote.config import DEV_BOARD_SEED, ConfigurationError, Mode, Settings
from securevote.crypto.merkle import (
    MerkleTree,
    TreeHead,
    generate_signing_keypair,
    sign_tree_head,
)
from securevote.db import Database
from securevote.jobs import Job
from securevote.logging import get_logger
from securevote.voter import Receipt, sign_receipt
from voting_service.elections import elections_with_boards, read_election
from voting_service.models import Ballot, BoardHead, BoardState

log = get_logger(__name__)
SERVICE = "voting"
#: a head is signed on request only if the board grew and the last head is older than this
MIN_HEAD_INTERVAL_SECONDS = 2
#: the board-heads job: sign heads for growing boards and seal closed elections
HEADS_JOB_INTERVAL_SECONDS = 30.0
CLOSED_STATES = ("closed", "tallied", "published")
_LOAD_BATCH = 100_000
#: a cast returns at most this many leaves its process's tree lacks (as migration 0013 does)
MAX_RETURNED_LEAVES = 4096


@dataclass(frozen=True)
class BoardKey:
    public_key: bytes
    secret_key: bytes


def board_key_from_settings(settings: Settings) -> BoardKey:
    """The board's Ed25519 key; the public development seed outside prod, refused in prod."""
    value = settings.board_signing_seed.get_secret_value() if settings.board_signing_seed else ""
    if not value:
        if settings.mode is Mode.PROD:
            raise ConfigurationError(
                "refusing to start in prod mode: SECUREVOTE_BOARD_SIGNING_SEED is not set"
            )
        value = DEV_BOARD_SEED
    try:
        seed = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError("SECUREVOTE_BOARD_SIGNING_SEED is not base64") from None
    if len(seed) != 32:
        raise ConfigurationError("SECUREVOTE_BOARD_SIGNING_SEED must encode 32 bytes")
    public_key, secret_key = generate_signing_keypair(seed)
    return BoardKey(public_key, secret_key)


def insert_ignoring_conflict(session: AsyncSession, table: Any, values: dict[str, Any]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING on either database."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table).values(**values).on_conflict_do_nothing()


class Board:
    """The board key and the per-election Merkle trees of one process."""

    def __init__(self, key: BoardKey) -> None:
        self.key = key
        self._trees: dict[str, MerkleTree] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, election_id: str) -> asyncio.Lock:
        return self._locks.setdefault(election_id, asyncio.Lock())

    async def tree(
        self, session: AsyncSession, election_id: str, *, at_least: int = 0
    ) -> MerkleTree:
        """The election's tree with every committed leaf this session sees (at least
        ``at_least`` leaves, if the session sees them)."""
        async with self._lock(election_id):
            tree = self._trees.get(election_id)
            if tree is not None and tree.size >= at_least and at_least > 0:
                return tree
            start = 0 if tree is None else tree.size
            hashes: list[bytes] = []
            while True:
                rows = (
                    await session.execute(
                        select(Ballot.board_index, Ballot.leaf_hash)
                        .where(Ballot.election_id == election_id)
                        .where(Ballot.board_index >= start + len(hashes))
                        .order_by(Ballot.board_index)
                        .limit(_LOAD_BATCH)
                    )
                ).all()
                for index, value in rows:
                    if index != start + len(hashes):  # never build over a gap
                        raise RuntimeError(f"board of {election_id} has a gap at {index}")
                    hashes.append(bytes(value))
                if len(rows) < _LOAD_BATCH:
                    break
            if tree is None:
                tree = MerkleTree(hashes)
                self._trees[election_id] = tree
            else:
                for value in hashes:
                    tree.append_hash(value)
            return tree

    def cached_tree(self, election_id: str, *, at_least: int) -> MerkleTree | None:
        """The cached tree if it already has ``at_least`` leaves (no database round trip)."""
        tree = self._trees.get(election_id)
        return tree if tree is not None and tree.size >= at_least else None

    def size(self, election_id: str) -> int:
        """The size of the cached tree; -1 if there is none yet."""
        tree = self._trees.get(election_id)
        return -1 if tree is None else tree.size

    async def extend(self, election_id: str, *, known: int, leaves: list[bytes]) -> None:
        """Append to the cached tree the committed leaf hashes ``leaves`` of indexes from
        ``known`` on, those it lacks (a cast transaction returned them: no round trip)."""
        async with self._lock(election_id):
            tree = self._trees.get(election_id)
            if tree is not None and 0 <= known <= tree.size:
                for value in leaves[tree.size - known :]:
                    tree.append_hash(value)

    async def tree_after_append(
        self, database: Database, election_id: str, *, index: int, leaf: bytes
    ) -> MerkleTree:
        """The tree with at least ``index + 1`` leaves, after leaf ``index`` was committed."""
        async with self._lock(election_id):
            tree = self._trees.get(election_id)
            if tree is not None and tree.size > index:
                return tree
            if tree is not None and tree.size == index:
                tree.append_hash(leaf)  # committed, and every leaf before it is in the tree
                return tree
        async with database.session() as session:
            return await self.tree(session, election_id, at_least=index + 1)

    def receipt(
        self, *, election_hash: bytes, tracker: bytes, index: int, tree: MerkleTree
    ) -> Receipt:
        return sign_receipt(
            election_hash=election_hash,
            tracker=tracker,
            board_index=index,
            tree_size=index + 1,
            root=tree.root(index + 1),
            secret_key=self.key.secret_key,
        )


async def ensure_board_row(session: AsyncSession, election_id: str) -> None:
    await session.execute(
        insert_ignoring_conflict(
            session, BoardState, {"election_id": election_id, "size": 0, "sealed": False}
        )
    )


async def lock_board(session: AsyncSession, election_id: str) -> BoardState:
    """Create (if needed) and lock the election's board row; appends to one board queue here."""
    await ensure_board_row(session, election_id)
    state = (
        await session.execute(
            select(BoardState)
            .where(BoardState.election_id == election_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return state


async def latest_head_row(session: AsyncSession, election_id: str) -> BoardHead | None:
    return (
        await session.execute(
            select(BoardHead)
            .where(BoardHead.election_id == election_id)
            .order_by(BoardHead.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


def tree_head(row: BoardHead, election_hash: bytes) -> TreeHead:
    return TreeHead(
        election_hash=election_hash,
        size=row.size,
        root=bytes(row.root),
        timestamp=row.timestamp,
        signature=bytes(row.signature),
    )


async def _sign_locked(
    session: AsyncSession,
    board: Board,
    *,
    election_id: str,
    election_hash: bytes,
    size: int,
    final: bool,
    now: int,
) -> BoardHead:
    """Sign and store a head of ``size`` (the caller holds the board row lock)."""
    tree = await board.tree(session, election_id, at_least=size)
    last = await latest_head_row(session, election_id)
    timestamp = max(now, last.timestamp if last else 0)  # timestamps never decrease
    head = sign_tree_head(
        election_hash=election_hash,
        size=size,
        root=tree.root(size),
        timestamp=timestamp,
        secret_key=board.key.secret_key,
    )
    row = BoardHead(
        election_id=election_id,
        size=size,
        root=head.root,
        timestamp=head.timestamp,
        signature=head.signature,
        final=final,
    )
    session.add(row)
    await session.flush()
    return row


async def fresh_head(
    database: Database,
    board: Board,
    *,
    election_id: str,
    election_hash: bytes,
    min_interval: int = MIN_HEAD_INTERVAL_SECONDS,
    now: int | None = None,
) -> BoardHead:
    """The latest signed head, signing a new one first if the board grew and the latest head
    is at least ``min_interval`` seconds old (or there is none)."""
    now = int(time.time()) if now is None else now
    async with database.session() as session:
        last = await latest_head_row(session, election_id)
        size = await session.scalar(
            select(BoardState.size).where(BoardState.election_id == election_id)
        )
        size = size or 0
        if last is not None and (last.size >= size or now - last.timestamp < min_interval):
            return last
        # Build the tree before taking the lock, so the lock is held for the tail only.
        await board.tree(session, election_id, at_least=size)
    async with database.session() as session:
        state = await lock_board(session, election_id)
        last = await latest_head_row(session, election_id)
        if last is not None and (last.size >= state.size or state.sealed):
            return last
        return await _sign_locked(
            session,
            board,
            election_id=election_id,
            election_hash=election_hash,
            size=state.size,
            final=False,
            now=now,
        )


async def seal_board(
    session: AsyncSession,
    *,
    election_id: str,
    board: Board,
    election_hash: bytes,
    actor: str = "system:board-heads",
    now: int | None = None,
) -> BoardHead | None:
    """Seal the board of a closed election with a final signed head (idempotent).

    Returns the final head, or None if the election is not closed yet. Casting locks the
    election row (FOR SHARE) while it checks the box is open, so once the election's move to
    closed has committed no cast that saw it open is still in flight: the final head covers
    every acknowledged ballot."""
    state = await lock_board(session, election_id)
    if state.sealed:
        return (
            await session.execute(
                select(BoardHead).where(
                    BoardHead.election_id == election_id, BoardHead.final.is_(True)
                )
            )
        ).scalar_one()
    election = await read_election(session, election_id, lock=False)
    if election is None or election.state not in CLOSED_STATES:
        return None
    row = await _sign_locked(
        session,
        board,
        election_id=election_id,
        election_hash=election_hash,
        size=state.size,
        final=True,
        now=int(time.time()) if now is None else now,
    )
    await session.execute(
        update(BoardState).where(BoardState.election_id == election_id).values(sealed=True)
    )
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action="board.seal",
        target=f"election:{election_id}",
        details={"size": row.size, "root": bytes(row.root).hex()},
    )
    log.info("board_sealed", election_id=election_id, size=row.size)
    return row


_JOB_BOARDS: weakref.WeakKeyDictionary[Database, Board] = weakref.WeakKeyDictionary()


async def run_heads_job(database: Database, settings: Settings) -> int:
    """Seal the boards of closed elections; sign a head for every open board that grew."""
    board = _JOB_BOARDS.get(database)
    if board is None:  # kept across runs of a looping job: the trees are only extended
        board = _JOB_BOARDS[database] = Board(board_key_from_settings(settings))
    handled = 0
    async with database.session() as session:
        work = await elections_with_boards(session)
    for election_id, state, election_hash in work:
        if state in CLOSED_STATES:
            async with database.session() as session:
                sealed = await seal_board(
                    session, election_id=election_id, board=board, election_hash=election_hash
                )
            handled += sealed is not None
        elif state == "open":
            await fresh_head(
                database,
                board,
                election_id=election_id,
                election_hash=election_hash,
                min_interval=0,
            )
            handled += 1
    return handled


JOB = Job(
    name="board-heads",
    run_once=run_heads_job,
    interval_seconds=HEADS_JOB_INTERVAL_SECONDS,
    description="sign tree heads for growing boards; seal the boards of closed elections",
)
