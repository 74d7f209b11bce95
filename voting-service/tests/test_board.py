"""The public board: pages, heads, consistency, sealing, spoiled ballots, immutability and
privacy (nothing about the voter beyond the ballot's own pseudonymous credential)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from securevote.config import Settings
from securevote.crypto.merkle import MerkleTree, TreeHead, verify_consistency, verify_tree_head
from securevote.db import Database
from securevote.logging import configure_logging
from voting_service.board import board_key_from_settings, run_heads_job


async def _cast(client: httpx.AsyncClient, kit: Any, context: Any, voter: Any, **kw: Any) -> Any:
    ballot = kit.encrypt(context, voter.credential, **kw)[0]
    response = await client.post(kit.cast_path(), json=kit.cast_body(ballot), headers=voter.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_board_pages_through_ballots_in_order_and_names_nobody(
    client: httpx.AsyncClient, kit: Any, voter: Callable[..., Any]
) -> None:
    context = await kit.election()
    voters = [voter() for _ in range(5)]
    for v in voters:
        await _cast(client, kit, context, v)
    first = (await client.get(f"{kit.board_path()}/ballots", params={"limit": 3})).json()
    second = (
        await client.get(
            f"{kit.board_path()}/ballots", params={"after": first["next_after"], "limit": 3}
        )
    ).json()
    entries = first["entries"] + second["entries"]
    assert [e["board_index"] for e in entries] == list(range(5))
    assert second["next_after"] is None
    for entry in entries:
        assert set(entry) == {"board_index", "tracker", "counted", "ballot"}
        assert set(entry["ballot"]) == {"election_hash", "credential", "questions"}
    text_of_pages = json.dumps(entries)
    for v in voters:  # the session subject, token and anything else of the voter: absent
        assert v.token not in text_of_pages
    # The tree over the trackers in board order is the one the latest head signs.
    tree = MerkleTree()
    for entry in entries:
        tree.append(bytes.fromhex(entry["tracker"]))
    head = (await client.get(f"{kit.board_path()}/heads/latest")).json()["head"]
    assert head["root"] == tree.root().hex()


async def test_heads_are_signed_and_consistent_and_the_job_seals_closed_boards(
    client: httpx.AsyncClient,
    kit: Any,
    voter: Callable[..., Any],
    settings: Settings,
    database: Database,
) -> None:
    context = await kit.election()
    key = board_key_from_settings(settings).public_key
    assert (await client.get(f"{kit.board_path()}/key")).json()["public_key"] == key.hex()
    assert (await client.get("/api/ballots/board/key")).json()["public_key"] == key.hex()
    for _ in range(3):
        await _cast(client, kit, context, voter())
    assert await run_heads_job(database, settings) == 1  # signs the open board's head
    for _ in range(4):
        await _cast(client, kit, context, voter())
    await kit.set_state("closed")
    assert await run_heads_job(database, settings) == 1  # seals
    assert await run_heads_job(database, settings) == 0  # nothing left to do

    page = (await client.get(f"{kit.board_path()}/heads")).json()
    assert page["sealed"] is True
    heads = [TreeHead.from_json(h["head"]) for h in page["heads"]]
    assert [h.size for h in heads] == [3, 7]
    assert [h["final"] for h in page["heads"]] == [False, True]
    assert page["heads"][0]["consistency"] is None
    for head in heads:
        assert verify_tree_head(head, key) and head.election_hash == context.election_hash
    assert verify_consistency(
        old_size=3,
        new_size=7,
        old_root=heads[0].root,
        new_root=heads[1].root,
        proof=[bytes.fromhex(p) for p in page["heads"][1]["consistency"]],
    )
    latest = (await client.get(f"{kit.board_path()}/heads/latest")).json()
    assert latest["final"] is True and latest["head"] == page["heads"][1]["head"]
    bad = await client.get(f"{kit.board_path()}/consistency", params={"first": 5, "second": 9})
    assert bad.status_code == 422


async def test_a_closed_election_without_ballots_is_sealed_at_size_zero(
    client: httpx.AsyncClient, kit: Any, settings: Settings, database: Database
) -> None:
    await kit.election(state="closed")
    assert await run_heads_job(database, settings) == 1
    latest = (await client.get(f"{kit.board_path()}/heads/latest")).json()
    assert latest["final"] is True and latest["head"]["size"] == 0


async def test_the_seal_endpoint_needs_an_admin_and_a_closed_election(
    client: httpx.AsyncClient, kit: Any, settings: Settings
) -> None:
    from securevote.auth import signer_from_settings

    await kit.election()
    token = signer_from_settings(settings).issue(
        {"sub": "admin-1", "kind": "admin", "org": "org-main", "roles": ["owner"]},
        ttl_seconds=600,
    )
    admin = {"Authorization": f"Bearer {token}"}
    assert (await client.post(f"{kit.board_path()}/seal")).status_code == 401
    assert (await client.post(f"{kit.board_path()}/seal", headers=admin)).status_code == 409
    await kit.set_state("closed")
    sealed = await client.post(f"{kit.board_path()}/seal", headers=admin)
    assert sealed.status_code == 200 and sealed.json()["final"] is True
    again = await client.post(f"{kit.board_path()}/seal", headers=admin)
    assert again.json() == sealed.json()


async def test_spoiled_ballots_are_published_and_never_counted(
    client: httpx.AsyncClient, kit: Any, voter: Callable[..., Any]
) -> None:
    context = await kit.election()
    alice = voter()
    audited, seed = kit.encrypt(context, alice.credential)
    body = {"ballot": audited.to_json(), "seed": seed.hex(), "choices": kit.CHOICE}
    spoil_path = f"/api/ballots/elections/{kit.ELECTION_ID}/spoil"
    response = await client.post(spoil_path, json=body, headers=alice.headers)
    assert response.status_code == 201, response.text
    assert response.json()["tracker"] == audited.tracker.hex()
    # Lying about the choices is caught.
    lie = {**body, "choices": kit.OTHER_CHOICE}
    assert (await client.post(spoil_path, json=lie, headers=alice.headers)).status_code == 422
    # A spoiled ballot cannot then be cast; a fresh one can.
    refused = await client.post(kit.cast_path(), json=kit.cast_body(audited), headers=alice.headers)
    assert refused.status_code == 409 and refused.json()["code"] == "ballot_spoiled"
    cast = await _cast(client, kit, context, alice)
    # ... and a cast ballot cannot be spoiled.
    listed = (await client.get(f"{kit.board_path()}/spoiled")).json()["spoiled"]
    assert [s["tracker"] for s in listed] == [audited.tracker.hex()]
    assert listed[0]["seed"] == seed.hex() and listed[0]["choices"] == {
        q: sorted(o) for q, o in kit.CHOICE.items()
    }
    board = (await client.get(f"{kit.board_path()}/ballots")).json()["entries"]
    assert [e["tracker"] for e in board] == [cast["receipt"]["tracker"]]
    lookup = await client.get(f"{kit.board_path()}/trackers/{audited.tracker.hex()}")
    assert lookup.status_code == 404


async def test_the_context_endpoint_gives_what_a_client_needs(
    client: httpx.AsyncClient, kit: Any, settings: Settings
) -> None:
    from securevote.record import context_from_documents

    context = await kit.election()
    body = (await client.get(f"/api/ballots/elections/{kit.ELECTION_ID}/context")).json()
    rebuilt = context_from_documents(
        manifest=body["manifest"], trustees=body["trustees"], threshold=body["threshold"]
    )
    assert rebuilt.election_hash == context.election_hash
    assert body["election_hash"] == context.election_hash.hex()
    assert body["board_public_key"] == board_key_from_settings(settings).public_key.hex()
    assert body["state"] == "open"
    missing = await client.get("/api/ballots/elections/nope/context")
    assert missing.status_code == 404


async def test_logs_never_carry_a_credential_or_a_ciphertext(
    client: httpx.AsyncClient,
    kit: Any,
    voter: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    context = await kit.election()
    configure_logging("DEBUG")
    alice = voter()
    ballot = kit.encrypt(context, alice.credential)[0]
    await client.post(kit.cast_path(), json=kit.cast_body(ballot), headers=alice.headers)
    await client.post(kit.cast_path(), json=kit.cast_body(ballot), headers=alice.headers)
    second = kit.encrypt(context, alice.credential)[0]
    await client.post(kit.cast_path(), json=kit.cast_body(second), headers=alice.headers)
    output = capsys.readouterr()
    logs = output.out + output.err
    configure_logging("WARNING")
    assert "ballot_cast" in logs
    assert alice.credential not in logs
    assert alice.token not in logs
    ciphertext = ballot.to_json()["questions"][0]["selections"][0]["ciphertext"]
    for part in json.dumps(ciphertext).split('"'):
        if len(part) >= 32:
            assert part not in logs


async def test_ballot_rows_carry_no_time_address_or_user_agent(database: Database) -> None:
    async with database.engine.connect() as connection:
        columns = await connection.run_sync(
            lambda sync: [
                c["name"] for c in __import__("sqlalchemy").inspect(sync).get_columns("ballots")
            ]
        )
    assert set(columns) == {
        "election_id",
        "board_index",
        "credential",
        "tracker",
        "leaf_hash",
        "ballot",
        "idempotency_key",
    }


_SEED_ROWS = (
    "INSERT INTO ballots (election_id, board_index, credential, tracker, leaf_hash, ballot)"
    " VALUES ('e', 0, 'c', :h, :h, '{}')",
    "INSERT INTO counted_ballots (election_id, credential, board_index) VALUES ('e', 'c', 0)",
    "INSERT INTO board_state (election_id, size, sealed) VALUES ('e', 1, true)",
    "INSERT INTO board_heads (election_id, size, root, timestamp, signature, final)"
    " VALUES ('e', 1, :h, 1, :h, true)",
    "INSERT INTO spoiled_ballots (election_id, tracker, ballot, seed, choices)"
    " VALUES ('e', :h, '{}', :h, '{}')",
)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ballots SET ballot = '[]'",
        "DELETE FROM ballots",
        "UPDATE board_heads SET size = 0",
        "DELETE FROM board_heads",
        "UPDATE spoiled_ballots SET seed = tracker",
        "DELETE FROM spoiled_ballots",
        "DELETE FROM counted_ballots",
        "UPDATE counted_ballots SET board_index = 0",
        "UPDATE board_state SET size = 0",
        "UPDATE board_state SET size = 2",
        "UPDATE board_state SET sealed = false",
        "DELETE FROM board_state",
    ],
)
async def test_the_database_refuses_changes_to_the_board(
    statement: str, database: Database
) -> None:
    """Triggers refuse these on PostgreSQL (the issue's requirement) and on SQLite too."""
    async with database.session() as session:
        for row in _SEED_ROWS:
            await session.execute(text(row), {"h": b"\x01" * 32})
    with pytest.raises(DBAPIError):
        async with database.session() as session:
            await session.execute(text(statement))


@pytest.mark.parametrize(
    "table", ["ballots", "counted_ballots", "board_state", "board_heads", "spoiled_ballots"]
)
async def test_postgresql_refuses_truncating_the_board(
    table: str, postgres_database: Database
) -> None:
    with pytest.raises(DBAPIError):
        async with postgres_database.session() as session:
            await session.execute(text(f"TRUNCATE {table} CASCADE"))
