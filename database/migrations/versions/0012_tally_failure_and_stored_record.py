"""results: a failed tally state, and the stored election record

A tally that meets a counted ballot it cannot add stops in the ``failed`` state with a reason
(``failure``: which board index and why, never the ballot) instead of being retried forever;
an administrator restarts it once the cause is fixed (docs/runbooks/tally-failure.md). The
constraint ties the two together: a failed tally has a reason, and only a failed one.

The election record of a published election never changes, so it is built once and stored:
``election_records`` (one row per election, the primary key makes the build happen exactly
once) and its bytes in ``election_record_chunks``, written and served a chunk at a time. Both
are insert-only.

Revision ID: 0012
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)
_STATUS = "status IN ('running', 'done', 'failed')"
_STATUS_BEFORE = "status IN ('running', 'done')"
_FAILURE = "(status = 'failed') = (failure IS NOT NULL)"


def upgrade() -> None:
    with op.batch_alter_table("tallies") as batch:
        batch.add_column(sa.Column("failure", sa.String(300), nullable=True))
        batch.add_column(sa.Column("failed_at", _TIME, nullable=True))
        batch.drop_constraint(op.f("ck_tallies_status"), type_="check")
        batch.create_check_constraint(op.f("ck_tallies_status"), _STATUS)
        batch.create_check_constraint(op.f("ck_tallies_failure"), _FAILURE)
    op.create_table(
        "election_records",
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("election_id", name=op.f("pk_election_records")),
    )
    op.create_table(
        "election_record_chunks",
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("election_id", "seq", name=op.f("pk_election_record_chunks")),
    )


def downgrade() -> None:
    op.drop_table("election_record_chunks")
    op.drop_table("election_records")
    # A failed tally goes back to running (retried, as before this revision).
    op.execute("UPDATE tallies SET status = 'running', failure = NULL WHERE status = 'failed'")
    with op.batch_alter_table("tallies") as batch:
        batch.drop_constraint(op.f("ck_tallies_failure"), type_="check")
        batch.drop_constraint(op.f("ck_tallies_status"), type_="check")
        batch.create_check_constraint(op.f("ck_tallies_status"), _STATUS_BEFORE)
        batch.drop_column("failed_at")
        batch.drop_column("failure")
