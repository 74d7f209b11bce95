"""elections: the frozen protocol context (manifest, trustees, threshold) and election hash

Set when the election is frozen; the voting and results services read them (inside their own
transactions) to verify ballots and tally.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# Plain ALTER TABLE (no batch copy): SQLite would drop the triggers that name this table.
def upgrade() -> None:
    op.add_column("elections", sa.Column("context_document", sa.JSON(), nullable=True))
    op.add_column("elections", sa.Column("election_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("elections", "election_hash")
    op.drop_column("elections", "context_document")
