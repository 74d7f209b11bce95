"""Group commit: casts queued together are stored in one transaction, each with the outcome
it would have had alone in that order; a batch that fails is retried one cast at a time."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from securevote.config import Settings
from securevote.crypto.merkle import MerkleTree, leaf_hash
from securevote.db import Database
from voting_service.board import Board, board_key_from_settings
from voting_service.group_commit import CastQueue, PendingCast, Stored
from voting_service.models import Ballot, BoardState, CountedBallot


def pending(credential: str, *, key: str | None = None, tracker: bytes | None = None) -> Any:
    tracker = tracker or secrets.token_bytes(32)
    return PendingCast(credential, tracker, leaf_hash(tracker), '{"ballot":"x"}', key)


def batches() -> tuple[float, float]:
    """(batches stored, casts in them) so far, from the batch size histogram."""
    count = REGISTRY.get_sample_value("securevote_cast_batch_size_count") or 0.0
    total = REGISTRY.get_sample_value("securevote_cast_batch_size_sum") or 0.0
    return count, total


async def cast_together(
    queue: CastQueue, election_hash: bytes, items: list[PendingCast]
) -> list[Stored | BaseException]:
    """Queue every item before the queue's task runs: they form one batch, in this order."""
    return await asyncio.gather(
        *(
            queue.cast(election_id="e-main", election_hash=election_hash, item=item)
            for item in items
        ),
        return_exceptions=True,
    )


async def board_rows(database: Database) -> tuple[list[tuple[int, str]], dict[str, int], int]:
    async with database.session() as session:
        ballots = (
            await session.execute(
                select(Ballot.board_index, Ballot.credential).order_by(Ballot.board_index)
            )
        ).all()
        counted = (
            await session.execute(select(CountedBallot.credential, CountedBallot.board_index))
        ).all()
        size = await session.scalar(select(BoardState.size))
    return [(int(i), c) for i, c in ballots], {c: int(i) for c, i in counted}, int(size or 0)


async def test_a_batch_gives_each_cast_its_outcome_in_order(
    kit: Any, database: Database, settings: Settings
) -> None:
    context = await kit.election()
    board = Board(board_key_from_settings(settings))
    async with database.session() as session:
        await board.tree(session, "e-main")  # this process has the (empty) tree cached
    queue = CastQueue(database, board)
    alice, bob, carol = pending("alice"), pending("bob"), pending("carol", key="k-carol-1")
    before = batches()
    outcomes = await cast_together(
        queue,
        context.election_hash,
        [
            alice,
            bob,
            alice,  # the same ballot again: a replay of the first
            pending("alice"),  # a second ballot for alice: she has voted
            carol,
            pending("carol", key="k-carol-1"),  # carol's key again, for another ballot
        ],
    )
    assert outcomes == [
        Stored("cast", 0),
        Stored("cast", 1),
        Stored("replay", 0),
        Stored("voted", -1),
        Stored("cast", 2),
        Stored("idempotency_key_reused", -1),
    ]
    after = batches()
    assert (after[0] - before[0], after[1] - before[1]) == (1, 6)
    ballots, counted, size = await board_rows(database)
    assert ballots == [(0, "alice"), (1, "bob"), (2, "carol")]
    assert counted == {"alice": 0, "bob": 1, "carol": 2}
    assert size == 3
    # The transaction returned what the cached tree lacked: it holds the batch already.
    tree = board.cached_tree("e-main", at_least=3)
    assert tree is not None
    expected = MerkleTree([alice.leaf, bob.leaf, carol.leaf])
    assert tree.root(3) == expected.root(3)


async def test_in_a_revoting_election_a_later_ballot_in_the_batch_supersedes_an_earlier(
    kit: Any, database: Database, settings: Settings
) -> None:
    context = await kit.election(allow_revoting=True)
    queue = CastQueue(database, Board(board_key_from_settings(settings)))
    outcomes = await cast_together(
        queue, context.election_hash, [pending("alice"), pending("bob"), pending("alice")]
    )
    assert outcomes == [Stored("cast", 0), Stored("cast", 1), Stored("cast", 2)]
    ballots, counted, size = await board_rows(database)
    assert ballots == [(0, "alice"), (1, "bob"), (2, "alice")]
    assert counted == {"alice": 2, "bob": 1}
    assert size == 3


async def test_a_closed_box_refuses_the_whole_batch(
    kit: Any, database: Database, settings: Settings
) -> None:
    context = await kit.election(state="closed")
    queue = CastQueue(database, Board(board_key_from_settings(settings)))
    outcomes = await cast_together(queue, context.election_hash, [pending("alice"), pending("bob")])
    assert outcomes == [Stored("box_closed", -1)] * 2
    assert await board_rows(database) == ([], {}, 0)


async def test_casts_queued_behind_a_running_batch_go_together_in_the_next(
    kit: Any, database: Database, settings: Settings
) -> None:
    context = await kit.election()
    queue = CastQueue(database, Board(board_key_from_settings(settings)))
    first = asyncio.ensure_future(
        queue.cast(election_id="e-main", election_hash=context.election_hash, item=pending("a"))
    )
    await asyncio.sleep(0)  # "a" is queued; the queue's task, scheduled, will take it alone
    before = batches()
    rest = await cast_together(queue, context.election_hash, [pending(c) for c in "bcdef"])
    assert await first == Stored("cast", 0)
    assert rest == [Stored("cast", i) for i in range(1, 6)]
    after = batches()
    assert (after[0] - before[0], after[1] - before[1]) == (2, 6)  # [a], then [b … f]


async def test_a_failing_batch_is_retried_one_cast_at_a_time(
    kit: Any, database: Database, settings: Settings
) -> None:
    # A fault the checks under the lock do not foresee (here a ballot without text, which the
    # NOT NULL constraint refuses) fails the whole transaction: nothing of the batch is
    # stored, and each cast is tried again alone, so that only the faulty one fails.
    context = await kit.election()
    queue = CastQueue(database, Board(board_key_from_settings(settings)))
    tracker = secrets.token_bytes(32)
    faulty = PendingCast("mallory", tracker, leaf_hash(tracker), None, None)  # type: ignore[arg-type]
    before = batches()
    outcomes = await cast_together(
        queue, context.election_hash, [pending("alice"), faulty, pending("bob")]
    )
    assert outcomes[0] == Stored("cast", 0) and outcomes[2] == Stored("cast", 1)
    assert isinstance(outcomes[1], IntegrityError)
    after = batches()
    assert (after[0] - before[0], after[1] - before[1]) == (2, 2)  # the two casts that stood
    assert await board_rows(database) == ([(0, "alice"), (1, "bob")], {"alice": 0, "bob": 1}, 2)


async def test_a_board_passing_64_ballots_gets_planner_statistics(
    kit: Any, database: Database, settings: Settings
) -> None:
    # Without statistics PostgreSQL's planner may look a tracker up by scanning the whole
    # board (migration 0013): the cast function analyzes as the board passes 64 ballots.
    if database.dialect != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    context = await kit.election()
    queue = CastQueue(database, Board(board_key_from_settings(settings)))

    async def estimated_ballots() -> float:
        async with database.session() as session:
            query = text("SELECT reltuples FROM pg_class WHERE oid = 'ballots'::regclass")
            return float(await session.scalar(query) or 0)

    await cast_together(queue, context.election_hash, [pending(f"v{i}") for i in range(60)])
    assert await estimated_ballots() < 60  # never analyzed (-1), or by autovacuum earlier
    await cast_together(queue, context.election_hash, [pending(f"w{i}") for i in range(8)])
    assert await estimated_ballots() >= 64
