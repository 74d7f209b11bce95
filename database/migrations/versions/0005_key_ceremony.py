"""key ceremony: named trustees, ceremony steps, sealed shares, complaints, server trustee

The election service runs the trustees' key ceremony (docs/protocol.md §4) through its API.
Every step is at most once per trustee (unique constraints); like the election's definition,
the ceremony can change only while its election is a draft (triggers, as in 0003), and the
columns fixed at freezing (server_trustee, context_document, election_hash) cannot change
afterwards.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=True)
_TABLES = (
    "ceremony_trustees",
    "key_ceremonies",
    "ceremony_steps",
    "ceremony_shares",
    "ceremony_complaints",
    "server_trustee_keys",
)
_FIXED = ("server_trustee", "context_document", "election_hash")
_MESSAGE = "election is not a draft: its key ceremony cannot change"


def _sqlite_triggers() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _FIXED)
    statements = [
        f"""CREATE TRIGGER elections_ceremony_fixed_after_draft BEFORE UPDATE ON elections
        WHEN OLD.state <> 'draft' AND ({changed})
        BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"""
    ]
    for table in _TABLES:
        for operation, rows in (
            ("INSERT", ("NEW",)),
            ("UPDATE", ("OLD", "NEW")),
            ("DELETE", ("OLD",)),
        ):
            condition = " OR ".join(
                f"(SELECT state FROM elections WHERE id = {row}.election_id) <> 'draft'"  # noqa: S608 (constants only)
                for row in rows
            )
            statements.append(
                f"""CREATE TRIGGER {table}_draft_only_{operation.lower()}
                BEFORE {operation} ON {table} WHEN {condition}
                BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"""
            )
    return statements


def _sqlite_trigger_names() -> list[str]:
    names = ["elections_ceremony_fixed_after_draft"]
    for table in _TABLES:
        names += [f"{table}_draft_only_{op}" for op in ("insert", "update", "delete")]
    return names


def _postgres_triggers() -> list[str]:
    # json has no equality operator: compare the text form.
    changed = " OR ".join(
        f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text"
        if c == "context_document"
        else f"NEW.{c} IS DISTINCT FROM OLD.{c}"
        for c in _FIXED
    )
    statements = [
        f"""CREATE FUNCTION elections_ceremony_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.state <> 'draft' AND ({changed}) THEN
                RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END;
        $$""",
        """CREATE TRIGGER elections_ceremony_fixed BEFORE UPDATE ON elections
        FOR EACH ROW EXECUTE FUNCTION elections_ceremony_fixed()""",
        f"""CREATE FUNCTION ceremony_draft_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                IF EXISTS (SELECT 1 FROM elections
                           WHERE id = OLD.election_id AND state <> 'draft') THEN
                    RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'check_violation';
                END IF;
            END IF;
            IF TG_OP <> 'DELETE' THEN
                IF EXISTS (SELECT 1 FROM elections
                           WHERE id = NEW.election_id AND state <> 'draft') THEN
                    RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'check_violation';
                END IF;
                RETURN NEW;
            END IF;
            RETURN OLD;
        END;
        $$""",  # noqa: S608 (constants only)
    ]
    for table in _TABLES:
        statements.append(
            f"""CREATE TRIGGER {table}_draft_only BEFORE INSERT OR UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION ceremony_draft_only()"""
        )
    return statements


def _election_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["election_id"],
        ["elections.id"],
        name=op.f(f"fk_{table}_election_id_elections"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy): SQLite would drop the triggers that name the table.
    op.add_column(
        "elections",
        sa.Column("server_trustee", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "ceremony_trustees",
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("trustee_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("election_id", "trustee_index", name=op.f("pk_ceremony_trustees")),
        _election_fk("ceremony_trustees"),
        sa.UniqueConstraint(
            "election_id", "account_id", name=op.f("uq_ceremony_trustees_election_id_account_id")
        ),
        sa.CheckConstraint("trustee_index >= 1", name=op.f("ck_ceremony_trustees_trustee_index")),
    )
    op.create_table(
        "key_ceremonies",
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("ceremony_id", sa.String(36), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=True),
        sa.Column("manifest_hash", sa.String(64), nullable=True),
        sa.Column("started_at", _UTC, nullable=False),
        sa.Column("completed_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("election_id", name=op.f("pk_key_ceremonies")),
        _election_fk("key_ceremonies"),
    )
    op.create_table(
        "ceremony_steps",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("trustee_index", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ceremony_steps")),
        _election_fk("ceremony_steps"),
        sa.UniqueConstraint(
            "election_id",
            "trustee_index",
            "step",
            name=op.f("uq_ceremony_steps_election_id_trustee_index_step"),
        ),
        sa.CheckConstraint(
            "step IN ('register', 'deal', 'verify')", name=op.f("ck_ceremony_steps_step")
        ),
    )
    op.create_table(
        "ceremony_shares",
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("sender", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recipient", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sealed_box", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(
            "election_id", "sender", "recipient", name=op.f("pk_ceremony_shares")
        ),
        _election_fk("ceremony_shares"),
    )
    op.create_table(
        "ceremony_complaints",
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("accuser", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("accused", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("reason", sa.String(100), nullable=False),
        sa.Column("revealed_share", sa.String(64), nullable=True),
        sa.Column("resolution", sa.String(16), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("answered_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint(
            "election_id", "accuser", "accused", name=op.f("pk_ceremony_complaints")
        ),
        _election_fk("ceremony_complaints"),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('answered', 'disqualified')",
            name=op.f("ck_ceremony_complaints_resolution"),
        ),
    )
    op.create_table(
        "server_trustee_keys",
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("ceremony_id", sa.String(36), nullable=False),
        sa.Column("sealed_key_share", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("election_id", name=op.f("pk_server_trustee_keys")),
        _election_fk("server_trustee_keys"),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _postgres_triggers() if postgres else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER {table}_draft_only ON {table}")
        op.execute("DROP FUNCTION ceremony_draft_only()")
        op.execute("DROP TRIGGER elections_ceremony_fixed ON elections")
        op.execute("DROP FUNCTION elections_ceremony_fixed()")
    else:
        for name in _sqlite_trigger_names():
            op.execute(f"DROP TRIGGER {name}")
    for table in reversed(_TABLES):
        op.drop_table(table)
    op.drop_column("elections", "server_trustee")
