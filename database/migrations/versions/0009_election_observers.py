"""election observers: accounts named to observe one election

An account whose organisation role is observer sees only the elections it is named for here
(docs/api-elections.md). Naming observers does not change what defines an election, so the
table is apart from ``elections`` and, unlike the key ceremony's tables, has no draft-only
triggers: observers may be named at any state.

Revision ID: 0009
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "election_observers",
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        # The primary key is the unique constraint: an account is named at most once.
        sa.PrimaryKeyConstraint("election_id", "account_id", name=op.f("pk_election_observers")),
        sa.ForeignKeyConstraint(
            ["election_id"],
            ["elections.id"],
            name=op.f("fk_election_observers_election_id_elections"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_election_observers_account_id"), "election_observers", ["account_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_election_observers_account_id"), table_name="election_observers")
    op.drop_table("election_observers")
