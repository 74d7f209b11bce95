"""Casting: proofs verified, exactly one counted ballot per voter, gapless board indexes,
idempotent retries, signed receipts; every refusal changes nothing."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from securevote.ballots import EncryptedBallot
from securevote.config import Settings
from securevote.crypto.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from securevote.db import Database
from securevote.voter import Receipt, check_receipt_inclusion, verify_receipt
from voting_service.app import create_app
from voting_service.board import board_key_from_settings
from voting_service.metrics import BALLOTS_CAST
from voting_service.models import Ballot, BoardState, CountedBallot


async def _count(database: Database, model: Any) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _nothing_stored(database: Database) -> None:
    assert await _count(database, Ballot) == 0
    assert await _count(database, CountedBallot) == 0
    async with database.session() as session:
        size = await session.scalar(select(BoardState.size))
    assert not size


async def test_a_cast_ballot_gets_a_signed_receipt_with_its_inclusion_proof(
    client: httpx.AsyncClient, kit: Any, voter: Callable[..., Any], settings: Settings
) -> None:
    context = await kit.election()
    alice = voter()
    ballot, _ = kit.encrypt(context, alice.credential)
    response = await client.post(kit.cast_path(), json=kit.cast_body(ballot), headers=alice.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    receipt = Receipt.from_json(body["receipt"])
    key = board_key_from_settings(settings).public_key
    assert body["board_public_key"] == key.hex()
    assert verify_receipt(receipt, key)
    assert receipt.tracker == ballot.tracker
    assert receipt.election_hash == context.election_hash
    assert (receipt.board_index, receipt.tree_size) == (0, 1)
    assert check_receipt_inclusion(receipt, [bytes.fromhex(p) for p in body["inclusion_proof"]])
    # A receipt changed in any field no longer verifies.
    forged = Receipt(**{**receipt.__dict__, "board_index": 1, "tree_size": 2})
    assert not verify_receipt(forged, key)


async def test_fifty_voters_casting_at_once_fill_indexes_0_to_49_without_gaps(
    client: httpx.AsyncClient, kit: Any, voter: Callable[..., Any], database: Database
) -> None:
    context = await kit.election()
    voters = [voter() for _ in range(50)]
    ballots = [kit.encrypt(context, v.credential)[0] for v in voters]
    responses = await asyncio.gather(
        *(
            client.post(kit.cast_path(), json=kit.cast_body(b), headers=v.headers)
            for v, b in zip(voters, ballots, strict=True)
        )
    )
    assert [r.status_code for r in responses] == [201] * 50
    receipts = [Receipt.from_json(r.json()["receipt"]) for r in responses]
    assert sorted(r.board_index for r in receipts) == list(range(50))
    assert {r.tracker for r in receipts} == {b.tracker for b in ballots}
    assert await _count(database, CountedBallot) == 50

    latest = (await client.get(f"{kit.board_path()}/heads/latest")).json()["head"]
    assert latest["size"] == 50
    root = bytes.fromhex(latest["root"])
    for receipt in receipts:
        found = (await client.get(f"{kit.board_path()}/trackers/{receipt.tracker.hex()}")).json()
        assert found["head"]["size"] == 50 and found["board_index"] == receipt.board_index
        assert verify_inclusion(
            leaf_hash=leaf_hash(receipt.tracker),
            index=receipt.board_index,
            size=50,
            proof=[bytes.fromhex(p) for p in found["inclusion_proof"]],
            root=root,
        )
        proof = (
            await client.get(
                f"{kit.board_path()}/consistency",
                params={"first": receipt.tree_size, "second": 50},
            )
        ).json()["proof"]
        assert verify_consistency(
            old_size=receipt.tree_size,
            new_size=50,
            old_root=receipt.root,
            new_root=root,
            proof=[bytes.fromhex(p) for p in proof],
        )


async def test_one_voter_casting_twice_at_once_has_exactly_one_ballot(
    client: httpx.AsyncClient, kit: Any, voter: Callable[..., Any], database: Database
) -> None:
    context = await kit.election()
    alice = voter()
    ballots = [kit.encrypt(context, alice.credential)[0] for _ in range(10)]
    responses = await asyncio.gather(
        *(
            client.post(kit.cast_path(), json=kit.cast_body(b), headers=alice.headers)
            for b in ballots
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 9
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"voted"}
    winner = next(r for r in responses if r.status_code == 201)
    assert await _count(database, Ballot) == 1
    assert await _count(database, CountedBallot) == 1
    page = (await client.get(f"{kit.board_path()}/ballots")).json()["entries"]
    # The stored ballot is the one whose receipt was returned.
    assert page[0]["tracker"] == winner.json()["receipt"]["tracker"]
    assert page[0]["board_index"] == 0 and page[0]["counted"] is True


async def test_in_a_revoting_election_the_last_ballot_counts_and_all_stay_on_the_board(
    client: httpx.AsyncClient, kit: Any, voter: Callable[..., Any], database: Database
) -> None:
    context = await kit.election(allow_revoting=True)
    alice, bob = voter(), voter()
    first = kit.encrypt(context, alice.credential)[0]
    assert (
        await client.post(kit.cast_path(), json=kit.cast_body(first), headers=alice.headers)
    ).status_code == 201
    ballots = [kit.encrypt(context, alice.credential, kit.OTHER_CHOICE)[0] for _ in range(5)]
    ballots.append(kit.encrypt(context, bob.credential)[0])
    responses = await asyncio.gather(
        *(
            client.post(
                kit.cast_path(),
                json=kit.cast_body(b),
                headers=(bob if b.credential == bob.credential else alice).headers,
            )
            for b in ballots
        )
    )
    assert [r.status_code for r in responses] == [201] * 6
    page = (await client.get(f"{kit.board_path()}/ballots")).json()["entries"]
    assert [e["board_index"] for e in page] == list(range(7))
    alices = [e for e in page if e["ballot"]["credential"] == alice.credential]
    assert len(alices) == 6
    assert [e["counted"] for e in alices] == [False] * 5 + [True]  # only the last counts
    assert await _count(database, CountedBallot) == 2


async def test_a_retry_with_the_same_idempotency_key_returns_the_same_receipt(
    client: httpx.AsyncClient, kit: Any, voter: Callable[..., Any], database: Database
) -> None:
    context = await kit.election()
    alice = voter()
    ballot = kit.encrypt(context, alice.credential)[0]
    headers = {**alice.headers, "Idempotency-Key": secrets.token_urlsafe(16)}
    cast_before = BALLOTS_CAST._value.get()
    first = await client.post(kit.cast_path(), json=kit.cast_body(ballot), headers=headers)
    again = await asyncio.gather(
        *(
            client.post(kit.cast_path(), json=kit.cast_body(ballot), headers=headers)
            for _ in range(5)
        )
    )
    assert first.status_code == 201
    assert {r.status_code for r in again} == {200}
    assert all(r.json() == first.json() for r in again)
    assert again[0].headers["Idempotent-Replayed"] == "true"
    assert await _count(database, Ballot) == 1
    assert BALLOTS_CAST._value.get() == cast_before + 1  # the metric counts ballots, not retries
    # After the box closed, a retry still gets its receipt; a new ballot does not get in.
    await kit.set_state("closed")
    late = await client.post(kit.cast_path(), json=kit.cast_body(ballot), headers=headers)
    assert late.status_code == 200 and late.json() == first.json()
    # The same key with another ballot is refused.
    other = kit.encrypt(context, alice.credential)[0]
    reused = await client.post(kit.cast_path(), json=kit.cast_body(other), headers=headers)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"


def _tamper(ballot: EncryptedBallot) -> dict[str, Any]:
    document = ballot.to_json()
    selection = document["questions"][0]["selections"][0]
    other = document["questions"][0]["selections"][1]
    selection["ciphertext"], other["ciphertext"] = other["ciphertext"], selection["ciphertext"]
    return document


def _rerandomise(ballot: EncryptedBallot, context: Any) -> dict[str, Any]:
    from securevote.crypto.elgamal import Ciphertext, encrypt
    from securevote.crypto.group import Scalar

    document = ballot.to_json()
    selection = document["questions"][0]["selections"][0]
    zero = encrypt(message=0, public_key=context.joint_key, nonce=Scalar(12345))
    selection["ciphertext"] = (Ciphertext.from_json(selection["ciphertext"]) + zero).to_json()
    return document


def _flip_challenge(ballot: EncryptedBallot) -> dict[str, Any]:
    document = ballot.to_json()
    proof = document["questions"][1]["selections"][0]["proof"]
    proof["challenges"][0], proof["challenges"][1] = proof["challenges"][1], proof["challenges"][0]
    return document


CASES = [
    "other_credential",
    "other_election",
    "tampered",
    "rerandomised",
    "proof_tampered",
    "missing_question",
    "extra_member",
    "malformed",
]


@pytest.mark.parametrize("case", CASES)
async def test_an_invalid_ballot_is_refused_and_nothing_is_stored(
    case: str,
    client: httpx.AsyncClient,
    kit: Any,
    voter: Callable[..., Any],
    database: Database,
) -> None:
    context = await kit.election()
    await kit.election(election_id="e-other")
    alice = voter()
    if case == "other_credential":  # another voter's ballot, replayed by alice
        document = kit.encrypt(context, voter().credential)[0].to_json()
        document["credential"] = alice.credential  # re-labelled: its proofs name the other
    elif case == "other_election":
        document = kit.encrypt(kit.context("e-other"), alice.credential)[0].to_json()
    elif case == "tampered":
        document = _tamper(kit.encrypt(context, alice.credential)[0])
    elif case == "rerandomised":  # another voter's ballot made to look fresh: proofs break
        document = _rerandomise(kit.encrypt(context, alice.credential)[0], context)
    elif case == "proof_tampered":
        document = _flip_challenge(kit.encrypt(context, alice.credential)[0])
    elif case == "missing_question":
        document = kit.encrypt(context, alice.credential)[0].to_json()
        document["questions"].pop()
    elif case == "extra_member":
        document = kit.encrypt(context, alice.credential)[0].to_json()
        document["voter_email"] = "alice@example.org"
    else:
        document = {"election_hash": "zz", "credential": alice.credential, "questions": []}
    response = await client.post(kit.cast_path(), json={"ballot": document}, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] in {"ballot_invalid", "ballot_malformed"}
    await _nothing_stored(database)


async def test_a_session_for_another_election_or_none_is_refused(
    client: httpx.AsyncClient, kit: Any, voter: Callable[..., Any], database: Database
) -> None:
    context = await kit.election()
    stranger = voter(election_id="e-elsewhere")
    ballot = kit.encrypt(context, stranger.credential)[0]
    body = kit.cast_body(ballot)
    assert (
        await client.post(kit.cast_path(), json=body, headers=stranger.headers)
    ).status_code == 403
    assert (await client.post(kit.cast_path(), json=body)).status_code == 401
    await _nothing_stored(database)


@pytest.mark.parametrize("state", ["frozen", "closed"])
async def test_a_box_that_is_not_open_refuses_ballots(
    state: str, client: httpx.AsyncClient, kit: Any, voter: Callable[..., Any], database: Database
) -> None:
    context = await kit.election(state=state)
    alice = voter()
    ballot = kit.encrypt(context, alice.credential)[0]
    response = await client.post(kit.cast_path(), json=kit.cast_body(ballot), headers=alice.headers)
    assert response.status_code == 409 and response.json()["code"] == "box_closed"
    await _nothing_stored(database)


async def test_an_unknown_election_is_404(
    client: httpx.AsyncClient, kit: Any, voter: Callable[..., Any]
) -> None:
    context = await kit.election()
    ghost = voter(election_id="e-ghost")
    ballot = kit.encrypt(context, ghost.credential)[0]
    response = await client.post(
        kit.cast_path("e-ghost"), json=kit.cast_body(ballot), headers=ghost.headers
    )
    assert response.status_code == 404


async def test_a_body_over_the_limit_is_413_and_a_large_ballot_fits(
    client: httpx.AsyncClient, kit: Any, voter: Callable[..., Any], settings: Settings
) -> None:
    context = await kit.election()
    alice = voter()
    huge = {"ballot": {"padding": "x" * settings.max_request_bytes}}
    response = await client.post(kit.cast_path(), json=huge, headers=alice.headers)
    assert response.status_code == 413
    # One selection is about 600 bytes of JSON: the default 1 MiB takes ~1,500 options.
    ballot = kit.encrypt(context, alice.credential)[0]
    per_selection = len(ballot.canonical_bytes()) / 5
    assert per_selection * 1500 < settings.max_request_bytes


async def test_closing_while_casting_leaves_every_acknowledged_ballot_on_the_sealed_board(
    client: httpx.AsyncClient, kit: Any, voter: Callable[..., Any], database: Database, app: Any
) -> None:
    from voting_service.board import seal_board

    context = await kit.election()
    voters = [voter() for _ in range(30)]
    ballots = [kit.encrypt(context, v.credential)[0] for v in voters]

    async def close_soon() -> None:
        await asyncio.sleep(0.05)
        await kit.set_state("closed")

    results = await asyncio.gather(
        close_soon(),
        *(
            client.post(kit.cast_path(), json=kit.cast_body(b), headers=v.headers)
            for v, b in zip(voters, ballots, strict=True)
        ),
    )
    responses = [r for r in results if r is not None]
    acknowledged = {r.json()["receipt"]["tracker"] for r in responses if r.status_code == 201}
    assert {r.status_code for r in responses} <= {201, 409}
    async with database.session() as session:
        head = await seal_board(
            session,
            election_id=kit.ELECTION_ID,
            board=app.state.board,
            election_hash=context.election_hash,
        )
    assert head is not None and head.final
    page = (await client.get(f"{kit.board_path()}/ballots", params={"limit": 100})).json()
    assert {e["tracker"] for e in page["entries"]} == acknowledged
    assert head.size == len(acknowledged)
    # Sealed: nothing more is accepted, even if the state were wrongly reopened.
    late = voter()
    ballot = kit.encrypt(context, late.credential)[0]
    response = await client.post(kit.cast_path(), json=kit.cast_body(ballot), headers=late.headers)
    assert response.status_code == 409


async def test_replicas_casting_in_turn_sign_receipts_over_the_roots_of_the_board(
    settings: Settings, serve: Any, kit: Any, voter: Callable[..., Any], database: Database
) -> None:
    # Each replica caches its own Merkle tree; the other replica's casts reach it as leaves
    # the cast transaction returns (or, when it has no tree yet, as a read of the board).
    context = await kit.election()
    async with serve(create_app(settings)) as first, serve(create_app(settings)) as second:
        receipts = []
        for round_ in range(3):
            voters = [voter() for _ in range(6)]
            ballots = [kit.encrypt(context, v.credential)[0] for v in voters]
            responses = await asyncio.gather(
                *(
                    (first if (i + round_) % 2 else second).post(
                        kit.cast_path(), json=kit.cast_body(b), headers=v.headers
                    )
                    for i, (v, b) in enumerate(zip(voters, ballots, strict=True))
                )
            )
            assert [r.status_code for r in responses] == [201] * 6
            receipts += [Receipt.from_json(r.json()["receipt"]) for r in responses]
    async with database.session() as session:
        leaves = list(await session.scalars(select(Ballot.leaf_hash).order_by(Ballot.board_index)))
    tree = MerkleTree(bytes(leaf) for leaf in leaves)
    assert sorted(r.board_index for r in receipts) == list(range(18))
    key = board_key_from_settings(settings).public_key
    for receipt in receipts:
        assert verify_receipt(receipt, key)
        assert receipt.root == tree.root(receipt.board_index + 1)


async def test_ballots_checked_in_worker_processes_are_cast_or_refused_as_in_threads(
    settings: Settings, serve: Any, kit: Any, voter: Callable[..., Any], database: Database
) -> None:
    # SECUREVOTE_VERIFY_PROCESSES=1: parsing and proofs run in a worker process of their own.
    context = await kit.election()
    app = create_app(settings.model_copy(update={"verify_processes": 1}))
    async with serve(app) as client:
        alice, bob, carol = voter(), voter(), voter()
        ballot = kit.encrypt(context, alice.credential)[0]
        cast = await client.post(kit.cast_path(), json=kit.cast_body(ballot), headers=alice.headers)
        assert cast.status_code == 201, cast.text
        assert cast.json()["receipt"]["tracker"] == ballot.tracker.hex()
        tampered = _tamper(kit.encrypt(context, bob.credential)[0])
        refused = await client.post(kit.cast_path(), json={"ballot": tampered}, headers=bob.headers)
        assert refused.status_code == 422 and refused.json()["code"] == "ballot_invalid"
        malformed = await client.post(
            kit.cast_path(), json={"ballot": {"questions": []}}, headers=carol.headers
        )
        assert malformed.status_code == 422 and malformed.json()["code"] == "ballot_malformed"
        assert app.state.verifier._pool is not None  # the checks did run in the worker pool
    assert app.state.verifier._pool is None  # stopped with the app
    assert await _count(database, Ballot) == 1
