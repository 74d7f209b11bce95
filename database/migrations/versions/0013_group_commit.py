"""ballot box: cast a batch of ballots in one statement (group commit)

``ballot_box_cast_many`` replaces ``ballot_box_cast`` (migration 0011): the same steps of
ADR 0008, for every ballot of a batch in turn, in one transaction that takes the election's
share lock and the board row lock once and pays for one commit flush
(docs/adr/0013-group-commit.md). The voting service sends it the casts to one election that
queued while its previous call ran; a batch of one is the old single cast.

Each ballot is checked after the ones before it in the batch, against everything committed
before the lock and everything the batch itself stored: a ballot twice in one batch is a
replay of the first, a second ballot for a credential is ``voted`` (or supersedes the first
where re-voting is allowed). It returns one row of three arrays: ``outcomes`` and
``board_indexes``, one element per ballot in the order given (outcomes as in migration 0011;
a refusal changed nothing for that ballot), and ``leaves``, the committed leaf hashes of the
indexes from ``p_known`` (the caller's cached tree size) up to the batch's first index, so the
caller can extend its Merkle tree with them and the batch's own leaves without reading them
back (empty when there are none, NULL when ``p_known`` is negative or more than 4096 behind).

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-26
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

_SIGNATURE = "text, text, text[], bytea[], bytea[], text[], text[], bigint"

# Until ANALYZE has seen an election's ballots, the planner cannot tell the unique index of
# (election_id, tracker) from a scan of every ballot of the election through another index
# that starts with election_id: both are estimated at one row, and the cast function's cached
# plans took the scan, so each check read the whole board (quadratic, under the board lock).
# Autovacuum analyzes within a minute or so, or after 10% growth of a large table; the cast
# function does not wait for it: when a board passes 64, 1024 and 16384 ballots it analyzes
# the two tables it looks ballots up in, which invalidates every session's cached plans. The
# function runs with its owner's (the migrator's) rights, since only a table's owner may
# analyze it; it does nothing else.
_ANALYZE_FUNCTION = """
CREATE FUNCTION ballot_box_analyze() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    ANALYZE ballots, counted_ballots;
END;
$$"""

_CAST_MANY_FUNCTION = """
CREATE FUNCTION ballot_box_cast_many(
    p_election_id text, p_election_hash text, p_credentials text[], p_trackers bytea[],
    p_leaves bytea[], p_ballots text[], p_idempotency_keys text[], p_known bigint
) RETURNS TABLE (outcomes text[], board_indexes bigint[], leaves bytea[])
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
#variable_conflict use_column
DECLARE
    n integer := coalesce(cardinality(p_trackers), 0);
    election record;
    board record;
    refusal text;
    next_index bigint;
    found_index bigint;
    counted_index bigint;
    result_outcomes text[] := '{}';
    result_indexes bigint[] := '{}';
BEGIN
    IF n = 0 OR cardinality(p_credentials) <> n OR cardinality(p_leaves) <> n
        OR cardinality(p_ballots) <> n OR cardinality(p_idempotency_keys) <> n THEN
        RAISE EXCEPTION 'ballot_box_cast_many: % trackers and arrays of other lengths', n
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- 1. the box is open and the ballots were verified against this context; the share lock
    --    keeps the election from closing until this transaction ends
    PERFORM ballot_box_lock_election(p_election_id);
    SELECT e.state, e.election_hash, e.allow_revoting INTO election
        FROM elections AS e WHERE e.id = p_election_id;
    IF NOT FOUND THEN
        refusal := 'not_found';
    ELSIF election.election_hash IS DISTINCT FROM p_election_hash THEN
        refusal := 'context_changed';
    ELSIF election.state <> 'open' THEN
        refusal := 'box_closed';
    ELSE
        -- 2. lock the board row (created on the first cast); its size is the next index
        SELECT s.size, s.sealed INTO board
            FROM board_state AS s WHERE s.election_id = p_election_id FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO board_state (election_id, size, sealed) VALUES (p_election_id, 0, false)
                ON CONFLICT DO NOTHING;
            SELECT s.size, s.sealed INTO board
                FROM board_state AS s WHERE s.election_id = p_election_id FOR UPDATE;
        END IF;
        IF board.sealed THEN
            refusal := 'box_closed';
        END IF;
    END IF;
    IF refusal IS NOT NULL THEN
        RETURN QUERY SELECT array_fill(refusal, ARRAY[n]), array_fill(NULL::bigint, ARRAY[n]),
            NULL::bytea[];
        RETURN;
    END IF;
    next_index := board.size;
    FOR i IN 1 .. n LOOP
        -- 3. under the lock (new snapshots): what concurrent casts committed, and this batch
        SELECT b.board_index INTO found_index FROM ballots AS b
            WHERE b.election_id = p_election_id AND b.tracker = p_trackers[i];
        IF FOUND THEN
            result_outcomes := result_outcomes || 'replay'::text;
            result_indexes := result_indexes || found_index;
            CONTINUE;
        END IF;
        IF p_idempotency_keys[i] IS NOT NULL AND EXISTS (
            SELECT 1 FROM ballots AS b WHERE b.election_id = p_election_id
            AND b.credential = p_credentials[i] AND b.idempotency_key = p_idempotency_keys[i]
        ) THEN
            refusal := 'idempotency_key_reused';
        ELSIF EXISTS (
            SELECT 1 FROM spoiled_ballots AS p
            WHERE p.election_id = p_election_id AND p.tracker = p_trackers[i]
        ) THEN
            refusal := 'ballot_spoiled';
        ELSE
            SELECT c.board_index INTO counted_index FROM counted_ballots AS c
                WHERE c.election_id = p_election_id AND c.credential = p_credentials[i];
            IF FOUND AND NOT election.allow_revoting THEN
                refusal := 'voted';
            END IF;
        END IF;
        IF refusal IS NOT NULL THEN
            result_outcomes := result_outcomes || refusal;
            result_indexes := result_indexes || NULL::bigint;
            refusal := NULL;
            CONTINUE;
        END IF;
        -- 4. take the index, store the ballot, point the credential's counted ballot at it
        INSERT INTO ballots (
            election_id, board_index, credential, tracker, leaf_hash, ballot, idempotency_key
        ) VALUES (
            p_election_id, next_index, p_credentials[i], p_trackers[i], p_leaves[i],
            p_ballots[i], p_idempotency_keys[i]
        );
        IF counted_index IS NULL THEN
            INSERT INTO counted_ballots (election_id, credential, board_index)
                VALUES (p_election_id, p_credentials[i], next_index);
        ELSE
            UPDATE counted_ballots SET board_index = next_index
                WHERE election_id = p_election_id AND credential = p_credentials[i];
        END IF;
        result_outcomes := result_outcomes || 'cast'::text;
        result_indexes := result_indexes || next_index;
        next_index := next_index + 1;
    END LOOP;
    IF next_index > board.size THEN
        UPDATE board_state SET size = next_index WHERE election_id = p_election_id;
        -- 5. a board passing 64, 1024 or 16384 ballots gets the planner statistics it lacks
        IF EXISTS (SELECT 1 FROM unnest(ARRAY[64, 1024, 16384]) AS t(n)
                   WHERE board.size < t.n AND next_index >= t.n) THEN
            PERFORM ballot_box_analyze();
        END IF;
    END IF;
    RETURN QUERY SELECT result_outcomes, result_indexes, CASE
        WHEN p_known >= 0 AND board.size - p_known BETWEEN 0 AND 4096
        THEN ARRAY(SELECT l.leaf_hash FROM ballots AS l
            WHERE l.election_id = p_election_id
            AND l.board_index >= p_known AND l.board_index < board.size
            ORDER BY l.board_index)
    END;
END;
$$"""


def _migration_0011() -> object:
    """Migration 0011's module, whose function definition the downgrade restores."""
    path = Path(__file__).with_name("0011_cast_in_one_statement.py")
    spec = importlib.util.spec_from_file_location("securevote_migration_0011", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION ballot_box_cast(text, text, text, bytea, bytea, text, text, bigint)"
        )
        op.execute(_ANALYZE_FUNCTION)
        op.execute(_CAST_MANY_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION ballot_box_cast_many({_SIGNATURE})")
        op.execute("DROP FUNCTION ballot_box_analyze()")
        op.execute(_migration_0011()._CAST_FUNCTION)  # type: ignore[attr-defined]
