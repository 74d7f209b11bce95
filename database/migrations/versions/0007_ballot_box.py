"""ballot box: ballots (the board), counted ballots, board state, signed heads, spoiled ballots

The board is append-only: triggers refuse UPDATE and DELETE of ballots, heads and spoiled
ballots (and TRUNCATE on PostgreSQL); a counted ballot can only move to a later board index
(re-voting) and never disappear; the board size never shrinks and a sealed board never grows.

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None

_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_APPEND_ONLY = ("ballots", "board_heads", "spoiled_ballots")
_COUNTED_RULE = "NEW.election_id = OLD.election_id AND NEW.credential = OLD.credential AND NEW.board_index > OLD.board_index"
_STATE_RULE = "NEW.election_id = OLD.election_id AND NEW.size >= OLD.size AND (NOT OLD.sealed OR (NEW.sealed AND NEW.size = OLD.size))"


def _postgres_triggers() -> list[str]:
    statements = [
        """CREATE FUNCTION ballot_box_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$""",
        f"""CREATE FUNCTION counted_ballots_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR NOT ({_COUNTED_RULE}) THEN
                RAISE EXCEPTION 'a counted ballot can only be superseded by a later one'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END;
        $$""",
        f"""CREATE FUNCTION board_state_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR NOT ({_STATE_RULE}) THEN
                RAISE EXCEPTION 'the board never shrinks and a sealed board never grows'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END;
        $$""",
        """CREATE TRIGGER counted_ballots_guard BEFORE UPDATE OR DELETE ON counted_ballots
        FOR EACH ROW EXECUTE FUNCTION counted_ballots_guard()""",
        """CREATE TRIGGER board_state_guard BEFORE UPDATE OR DELETE ON board_state
        FOR EACH ROW EXECUTE FUNCTION board_state_guard()""",
    ]
    for table in (*_APPEND_ONLY, "counted_ballots", "board_state"):
        if table in _APPEND_ONLY:
            statements.append(
                f"""CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION ballot_box_refuse_change()"""
            )
        statements.append(
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION ballot_box_refuse_change()"""
        )
    return statements


def _sqlite_triggers() -> list[str]:
    statements = []
    for table in _APPEND_ONLY:
        for operation in ("UPDATE", "DELETE"):
            statements.append(
                f"""CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"""
            )
    statements += [
        f"""CREATE TRIGGER counted_ballots_no_rewind BEFORE UPDATE ON counted_ballots
        WHEN NOT ({_COUNTED_RULE})
        BEGIN SELECT RAISE(ABORT, 'a counted ballot can only be superseded by a later one'); END""",
        """CREATE TRIGGER counted_ballots_no_delete BEFORE DELETE ON counted_ballots
        BEGIN SELECT RAISE(ABORT, 'a counted ballot can only be superseded by a later one'); END""",
        f"""CREATE TRIGGER board_state_no_rewind BEFORE UPDATE ON board_state
        WHEN NOT ({_STATE_RULE})
        BEGIN SELECT RAISE(ABORT, 'the board never shrinks and a sealed board never grows'); END""",
        """CREATE TRIGGER board_state_no_delete BEFORE DELETE ON board_state
        BEGIN SELECT RAISE(ABORT, 'the board never shrinks and a sealed board never grows'); END""",
    ]
    return statements


def _sqlite_trigger_names() -> list[str]:
    names = [f"{t}_no_{op}" for t in _APPEND_ONLY for op in ("update", "delete")]
    return [
        *names,
        "counted_ballots_no_rewind",
        "counted_ballots_no_delete",
        "board_state_no_rewind",
        "board_state_no_delete",
    ]


def upgrade() -> None:
    op.create_table(
        "ballots",
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("board_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("credential", sa.String(200), nullable=False),
        sa.Column("tracker", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("ballot", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("election_id", "board_index", name=op.f("pk_ballots")),
        sa.CheckConstraint("board_index >= 0", name=op.f("ck_ballots_board_index")),
        sa.UniqueConstraint("election_id", "tracker", name=op.f("uq_ballots_election_id_tracker")),
        sa.UniqueConstraint(
            "election_id",
            "credential",
            "idempotency_key",
            name=op.f("uq_ballots_election_id_credential_idempotency_key"),
        ),
    )
    op.create_table(
        "counted_ballots",
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("credential", sa.String(200), nullable=False),
        sa.Column("board_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("election_id", "credential", name=op.f("pk_counted_ballots")),
        sa.UniqueConstraint(
            "election_id", "board_index", name=op.f("uq_counted_ballots_election_id_board_index")
        ),
        sa.ForeignKeyConstraint(
            ["election_id", "board_index"],
            ["ballots.election_id", "ballots.board_index"],
            name=op.f("fk_counted_ballots_election_id_ballots"),
        ),
    )
    op.create_table(
        "board_state",
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sealed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("election_id", name=op.f("pk_board_state")),
        sa.CheckConstraint("size >= 0", name=op.f("ck_board_state_size")),
    )
    op.create_table(
        "board_heads",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_board_heads")),
        sa.CheckConstraint("size >= 0", name=op.f("ck_board_heads_size")),
        sa.UniqueConstraint(
            "election_id", "size", "final", name=op.f("uq_board_heads_election_id_size_final")
        ),
    )
    op.create_table(
        "spoiled_ballots",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("tracker", sa.LargeBinary(), nullable=False),
        sa.Column("ballot", sa.Text(), nullable=False),
        sa.Column("seed", sa.LargeBinary(), nullable=False),
        sa.Column("choices", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spoiled_ballots")),
        sa.UniqueConstraint(
            "election_id", "tracker", name=op.f("uq_spoiled_ballots_election_id_tracker")
        ),
    )
    is_postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _postgres_triggers() if is_postgres else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in (
            "spoiled_ballots",
            "board_heads",
            "board_state",
            "counted_ballots",
            "ballots",
        ):
            op.execute(f"DROP TABLE {table} CASCADE")
        for function in ("ballot_box_refuse_change", "counted_ballots_guard", "board_state_guard"):
            op.execute(f"DROP FUNCTION {function}()")
        return
    for name in _sqlite_trigger_names():
        op.execute(f"DROP TRIGGER {name}")
    for table in ("spoiled_ballots", "board_heads", "board_state", "counted_ballots", "ballots"):
        op.drop_table(table)
