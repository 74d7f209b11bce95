"""ballot box: the cast transaction as one PostgreSQL function; an index for the latest head

``ballot_box_cast`` runs the cast transaction of ADR 0008 server-side, so the voting service
calls it as one statement in its own implicit transaction: the board row is locked from the
moment the function takes it until the commit at the end of that statement, with no client
round trip in between (docs/adr/0012-cast-in-one-statement.md). Each statement of a VOLATILE
plpgsql function takes a new snapshot under READ COMMITTED, so the checks after the lock see
every cast committed before it, exactly as the separate statements did. The function is
SECURITY INVOKER: the caller's own table grants apply. Only the election's share lock is taken
by ``ballot_box_lock_election``, SECURITY DEFINER: a row lock needs UPDATE privilege, which the
voting role does not have on ``elections``; the spoil path calls it too.

It returns (outcome, board_index, leaves): ``outcome`` is ``cast`` or ``replay`` (this ballot
is on the board already, at ``board_index``) or a refusal (``not_found``, ``context_changed``,
``box_closed``, ``idempotency_key_reused``, ``ballot_spoiled``, ``voted``) that changed
nothing. ``leaves`` are the committed leaf hashes of the indexes from ``p_known`` (the
caller's cached tree size) up to ``board_index``, so the caller can extend its Merkle tree and
sign the receipt without reading them again (NULL when that range is empty or longer than
4096).

``ix_board_heads_election_id_id`` serves "the latest head of an election" without scanning
all of its heads. SQLite gets the index only: there the service runs the same steps as
separate statements inside ``BEGIN IMMEDIATE``.

Revision ID: 0011
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0007"
branch_labels = None
depends_on = None

_SIGNATURE = "text, text, text, bytea, bytea, text, text, bigint"

# Row locks need UPDATE privilege, which the voting role has not on elections (init.sql): this
# one function takes the share lock with its owner's (the migrator's) rights and does nothing
# else. The lock belongs to the caller's transaction. search_path is fixed at creation.
_LOCK_FUNCTION = """
CREATE FUNCTION ballot_box_lock_election(p_election_id text) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT 1 FROM elections WHERE id = p_election_id FOR SHARE;
$$"""

_CAST_FUNCTION = """
CREATE FUNCTION ballot_box_cast(
    p_election_id text, p_election_hash text, p_credential text, p_tracker bytea,
    p_leaf bytea, p_ballot text, p_idempotency_key text, p_known bigint
) RETURNS TABLE (outcome text, board_index bigint, leaves bytea[])
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
#variable_conflict use_column
DECLARE
    election record;
    board record;
    found_index bigint;
    counted_index bigint;
BEGIN
    -- 1. the box is open and the ballot was verified against this context; the share lock
    --    keeps the election from closing until this transaction ends
    PERFORM ballot_box_lock_election(p_election_id);
    SELECT e.state, e.election_hash, e.allow_revoting INTO election
        FROM elections AS e WHERE e.id = p_election_id;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::bigint, NULL::bytea[]; RETURN;
    END IF;
    IF election.election_hash IS DISTINCT FROM p_election_hash THEN
        RETURN QUERY SELECT 'context_changed', NULL::bigint, NULL::bytea[]; RETURN;
    END IF;
    IF election.state <> 'open' THEN
        RETURN QUERY SELECT 'box_closed', NULL::bigint, NULL::bytea[]; RETURN;
    END IF;
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
        RETURN QUERY SELECT 'box_closed', NULL::bigint, NULL::bytea[]; RETURN;
    END IF;
    -- 3. under the lock (new snapshots): everything a concurrent cast may have just committed
    SELECT b.board_index INTO found_index
        FROM ballots AS b WHERE b.election_id = p_election_id AND b.tracker = p_tracker;
    IF FOUND THEN
        RETURN QUERY SELECT 'replay', found_index, CASE
            WHEN p_known >= 0 AND found_index - p_known BETWEEN 1 AND 4096
            THEN ARRAY(SELECT l.leaf_hash FROM ballots AS l
                WHERE l.election_id = p_election_id
                AND l.board_index >= p_known AND l.board_index < found_index
                ORDER BY l.board_index)
        END;
        RETURN;
    END IF;
    IF p_idempotency_key IS NOT NULL AND EXISTS (
        SELECT 1 FROM ballots AS b WHERE b.election_id = p_election_id
        AND b.credential = p_credential AND b.idempotency_key = p_idempotency_key
    ) THEN
        RETURN QUERY SELECT 'idempotency_key_reused', NULL::bigint, NULL::bytea[]; RETURN;
    END IF;
    IF EXISTS (
        SELECT 1 FROM spoiled_ballots AS p
        WHERE p.election_id = p_election_id AND p.tracker = p_tracker
    ) THEN
        RETURN QUERY SELECT 'ballot_spoiled', NULL::bigint, NULL::bytea[]; RETURN;
    END IF;
    SELECT c.board_index INTO counted_index FROM counted_ballots AS c
        WHERE c.election_id = p_election_id AND c.credential = p_credential;
    IF FOUND AND NOT election.allow_revoting THEN
        RETURN QUERY SELECT 'voted', NULL::bigint, NULL::bytea[]; RETURN;
    END IF;
    -- 4. take the index, store the ballot, point the credential's counted ballot at it
    UPDATE board_state SET size = size + 1 WHERE election_id = p_election_id;
    INSERT INTO ballots (
        election_id, board_index, credential, tracker, leaf_hash, ballot, idempotency_key
    ) VALUES (
        p_election_id, board.size, p_credential, p_tracker, p_leaf, p_ballot, p_idempotency_key
    );
    IF counted_index IS NULL THEN
        INSERT INTO counted_ballots (election_id, credential, board_index)
            VALUES (p_election_id, p_credential, board.size);
    ELSE
        UPDATE counted_ballots SET board_index = board.size
            WHERE election_id = p_election_id AND credential = p_credential;
    END IF;
    RETURN QUERY SELECT 'cast', board.size, CASE
        WHEN p_known >= 0 AND board.size - p_known BETWEEN 1 AND 4096
        THEN ARRAY(SELECT l.leaf_hash FROM ballots AS l
            WHERE l.election_id = p_election_id
            AND l.board_index >= p_known AND l.board_index < board.size
            ORDER BY l.board_index)
    END;
END;
$$"""


def upgrade() -> None:
    op.create_index("ix_board_heads_election_id_id", "board_heads", ["election_id", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_LOCK_FUNCTION)
        op.execute(_CAST_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION ballot_box_cast({_SIGNATURE})")
        op.execute("DROP FUNCTION ballot_box_lock_election(text)")
    op.drop_index("ix_board_heads_election_id_id", table_name="board_heads")
