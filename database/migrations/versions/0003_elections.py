"""elections: elections, questions, options and the voter roll (election service)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=True)

# Defence in depth for "nothing that defines the election changes after freezing" and for
# the lifecycle order: the service checks both under a row lock, and the database refuses
# what slips past. Rows of questions, options and voters may change only while their
# election is a draft (a row whose election is already gone, in a cascade, passes).
_DEFINING = (
    "id",
    "organisation_id",
    "title",
    "description",
    "time_zone",
    "opens_at",
    "closes_at",
    "allow_revoting",
    "second_factor",
    "trustee_count",
    "threshold",
    "joint_public_key",
    "created_by",
    "created_at",
)
_STEPS = (
    ("draft", "frozen"),
    ("frozen", "open"),
    ("open", "closed"),
    ("closed", "tallied"),
    ("tallied", "published"),
)
_STEP_ALLOWED = " OR ".join(f"(OLD.state = '{a}' AND NEW.state = '{b}')" for a, b in _STEPS)
_CHILD_ELECTION = {  # how a row of each child table finds its election's id
    "questions": "{row}.election_id",
    "voters": "{row}.election_id",
    "options": "(SELECT q.election_id FROM questions q WHERE q.id = {row}.question_id)",
}
_INSERTED_JOIN = {  # PostgreSQL: the elections of a statement's inserted rows (alias e)
    "questions": "inserted_rows r JOIN elections e ON e.id = r.election_id",
    "voters": "inserted_rows r JOIN elections e ON e.id = r.election_id",
    "options": "inserted_rows r JOIN questions q ON q.id = r.question_id "
    "JOIN elections e ON e.id = q.election_id",
}
_FROZEN_MESSAGE = "election is not a draft: its definition cannot change"


def _sqlite_triggers() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _DEFINING)
    statements = [
        f"""CREATE TRIGGER elections_fixed_after_draft BEFORE UPDATE ON elections
        WHEN OLD.state <> 'draft' AND ({changed})
        BEGIN SELECT RAISE(ABORT, '{_FROZEN_MESSAGE}'); END""",
        f"""CREATE TRIGGER elections_state_order BEFORE UPDATE OF state ON elections
        WHEN NEW.state <> OLD.state AND NOT ({_STEP_ALLOWED})
        BEGIN SELECT RAISE(ABORT, 'election state change out of order'); END""",
    ]
    for table, election in _CHILD_ELECTION.items():
        for operation, rows in (
            ("INSERT", ("NEW",)),
            ("UPDATE", ("OLD", "NEW")),
            ("DELETE", ("OLD",)),
        ):
            condition = " OR ".join(
                f"(SELECT state FROM elections WHERE id = {election.format(row=row)}) <> 'draft'"  # noqa: S608 (constants only)
                for row in rows
            )
            statements.append(
                f"""CREATE TRIGGER {table}_draft_only_{operation.lower()} BEFORE {operation} ON {table}
                WHEN {condition}
                BEGIN SELECT RAISE(ABORT, '{_FROZEN_MESSAGE}'); END"""
            )
    return statements


def _sqlite_trigger_names() -> list[str]:
    names = ["elections_fixed_after_draft", "elections_state_order"]
    for table in _CHILD_ELECTION:
        names += [f"{table}_draft_only_{op}" for op in ("insert", "update", "delete")]
    return names


def _postgres_triggers() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _DEFINING)
    statements = [
        f"""CREATE FUNCTION elections_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.state <> OLD.state AND NOT ({_STEP_ALLOWED}) THEN
                RAISE EXCEPTION 'election state change out of order'
                    USING ERRCODE = 'check_violation';
            END IF;
            IF OLD.state <> 'draft' AND ({changed}) THEN
                RAISE EXCEPTION '{_FROZEN_MESSAGE}' USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END;
        $$""",
        """CREATE TRIGGER elections_guard_update BEFORE UPDATE ON elections
        FOR EACH ROW EXECUTE FUNCTION elections_guard_update()""",
    ]
    for table, election in _CHILD_ELECTION.items():
        statements += [
            # Updates and deletes row by row (they are rare) ...
            f"""CREATE FUNCTION {table}_draft_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM elections
                        WHERE id = {election.format(row="OLD")} AND state <> 'draft')
                   OR TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM elections
                        WHERE id = {election.format(row="NEW")} AND state <> 'draft') THEN
                    RAISE EXCEPTION '{_FROZEN_MESSAGE}' USING ERRCODE = 'check_violation';
                END IF;
                IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                RETURN NEW;
            END;
            $$""",  # noqa: S608 (constants only)
            f"""CREATE TRIGGER {table}_draft_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION {table}_draft_only()""",
            # ... inserts once per statement, so a bulk roll import (COPY) stays fast.
            f"""CREATE FUNCTION {table}_draft_only_insert() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM {_INSERTED_JOIN[table]} WHERE e.state <> 'draft') THEN
                    RAISE EXCEPTION '{_FROZEN_MESSAGE}' USING ERRCODE = 'check_violation';
                END IF;
                RETURN NULL;
            END;
            $$""",  # noqa: S608 (constants only)
            f"""CREATE TRIGGER {table}_draft_only_insert AFTER INSERT ON {table}
            REFERENCING NEW TABLE AS inserted_rows
            FOR EACH STATEMENT EXECUTE FUNCTION {table}_draft_only_insert()""",
        ]
    return statements


def _create_triggers() -> None:
    dialect = op.get_bind().dialect.name
    statements = _postgres_triggers() if dialect == "postgresql" else _sqlite_triggers()
    for statement in statements:
        op.execute(statement)


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER elections_guard_update ON elections")
        op.execute("DROP FUNCTION elections_guard_update()")
        for table in _CHILD_ELECTION:
            op.execute(f"DROP TRIGGER {table}_draft_only_insert ON {table}")
            op.execute(f"DROP FUNCTION {table}_draft_only_insert()")
            op.execute(f"DROP TRIGGER {table}_draft_only ON {table}")
            op.execute(f"DROP FUNCTION {table}_draft_only()")
    else:
        for name in _sqlite_trigger_names():
            op.execute(f"DROP TRIGGER {name}")


def upgrade() -> None:
    op.create_table(
        "elections",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("opens_at", _UTC, nullable=False),
        sa.Column("closes_at", _UTC, nullable=False),
        sa.Column("allow_revoting", sa.Boolean(), nullable=False),
        sa.Column("second_factor", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("trustee_count", sa.Integer(), nullable=True),
        sa.Column("threshold", sa.Integer(), nullable=True),
        sa.Column("joint_public_key", sa.LargeBinary(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.Column("frozen_at", _UTC, nullable=True),
        sa.Column("opened_at", _UTC, nullable=True),
        sa.Column("closed_at", _UTC, nullable=True),
        sa.Column("tallied_at", _UTC, nullable=True),
        sa.Column("published_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elections")),
        sa.CheckConstraint(
            "state IN ('draft', 'frozen', 'open', 'closed', 'tallied', 'published')",
            name=op.f("ck_elections_state"),
        ),
        sa.CheckConstraint("closes_at > opens_at", name=op.f("ck_elections_window")),
        sa.CheckConstraint(
            "second_factor IN ('none', 'date_of_birth')", name=op.f("ck_elections_second_factor")
        ),
        sa.CheckConstraint(
            "threshold IS NULL OR (threshold >= 1 AND threshold <= trustee_count)",
            name=op.f("ck_elections_threshold"),
        ),
    )
    op.create_index(
        "ix_elections_organisation_id_created_at",
        "elections",
        ["organisation_id", "created_at"],
    )
    op.create_index("ix_elections_state_opens_at", "elections", ["state", "opens_at"])
    op.create_index("ix_elections_state_closes_at", "elections", ["state", "closes_at"])

    op.create_table(
        "questions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("min_selections", sa.Integer(), nullable=False),
        sa.Column("max_selections", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questions")),
        sa.ForeignKeyConstraint(
            ["election_id"],
            ["elections.id"],
            name=op.f("fk_questions_election_id_elections"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "election_id", "position", name=op.f("uq_questions_election_id_position")
        ),
        sa.CheckConstraint(
            "kind IN ('plurality', 'approval', 'k_of_n')", name=op.f("ck_questions_kind")
        ),
        sa.CheckConstraint(
            "min_selections >= 0 AND max_selections >= 1 AND max_selections >= min_selections",
            name=op.f("ck_questions_selections"),
        ),
    )

    op.create_table(
        "options",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("question_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_options")),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["questions.id"],
            name=op.f("fk_options_question_id_questions"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "question_id", "position", name=op.f("uq_options_question_id_position")
        ),
    )

    op.create_table(
        "voters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("external_id", sa.String(100), nullable=True),
        sa.Column("secret_digest", sa.String(64), nullable=True),
        sa.Column("credential", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voters")),
        sa.ForeignKeyConstraint(
            ["election_id"],
            ["elections.id"],
            name=op.f("fk_voters_election_id_elections"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "election_id", "email_key", name=op.f("uq_voters_election_id_email_key")
        ),
        sa.UniqueConstraint("credential", name=op.f("uq_voters_credential")),
    )
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    op.drop_table("voters")
    op.drop_table("options")
    op.drop_table("questions")
    op.drop_index("ix_elections_state_closes_at", table_name="elections")
    op.drop_index("ix_elections_state_opens_at", table_name="elections")
    op.drop_index("ix_elections_organisation_id_created_at", table_name="elections")
    op.drop_table("elections")
