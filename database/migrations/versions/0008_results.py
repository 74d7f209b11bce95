"""results: tallies (with progress), decryption shares, refused shares, results

One tally per election (the primary key): the aggregate is computed once, in batches, each
batch committed with the cursor it reached. One share set per trustee and election (the
primary key of ``decryption_shares``): a second submission is refused by the database. One
result per election; ``published_at`` stays NULL until the administrator publishes, and the
API shows nothing of a result before that. Refused share submissions are kept apart
(``rejected_shares``) so that a refusal is on record even though nothing else changed.

Revision ID: 0008
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None

_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tallies",
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("board_size", sa.BigInteger(), nullable=False),
        sa.Column("board_root", sa.String(64), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("processed", sa.BigInteger(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("aggregate", sa.JSON(), nullable=False),
        sa.Column("started_by", sa.String(200), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("election_id", name=op.f("pk_tallies")),
        sa.CheckConstraint("status IN ('running', 'done')", name=op.f("ck_tallies_status")),
        sa.CheckConstraint(
            "processed >= 0 AND processed <= total", name=op.f("ck_tallies_processed")
        ),
    )
    op.create_table(
        "decryption_shares",
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("trustee_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("shares", sa.JSON(), nullable=False),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("submitted_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("election_id", "trustee_index", name=op.f("pk_decryption_shares")),
        sa.CheckConstraint("trustee_index >= 1", name=op.f("ck_decryption_shares_trustee_index")),
    )
    op.create_table(
        "rejected_shares",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("trustee_index", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("submitted_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_shares")),
    )
    op.create_index(op.f("ix_rejected_shares_election_id"), "rejected_shares", ["election_id"])
    op.create_table(
        "results",
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("ballot_count", sa.BigInteger(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("trustees", sa.JSON(), nullable=False),
        sa.Column("reconciliation", sa.JSON(), nullable=False),
        sa.Column("decrypted_at", _TIME, nullable=False),
        sa.Column("published_at", _TIME, nullable=True),
        sa.Column("published_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("election_id", name=op.f("pk_results")),
    )


def downgrade() -> None:
    op.drop_table("results")
    op.drop_index(op.f("ix_rejected_shares_election_id"), table_name="rejected_shares")
    op.drop_table("rejected_shares")
    op.drop_table("decryption_shares")
    op.drop_table("tallies")
