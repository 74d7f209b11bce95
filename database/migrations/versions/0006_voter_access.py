"""auth: voter access — voter tokens (keyed hashes only), the mail outbox and the dev mailbox

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=True)
_KINDS = "kind IN ('invitation', 'reminder', 'resend')"
_STATES = "status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')"


def upgrade() -> None:
    op.create_table(
        "voter_tokens",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("credential", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("secret_digest", sa.String(64), nullable=True),
        sa.Column("issued_at", _UTC, nullable=False),
        sa.Column("expires_at", _UTC, nullable=False),
        sa.Column("spent_at", _UTC, nullable=True),
        sa.CheckConstraint("generation >= 1", name=op.f("ck_voter_tokens_generation")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voter_tokens")),
        sa.UniqueConstraint(
            "election_id", "credential", name=op.f("uq_voter_tokens_election_id_credential")
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_voter_tokens_token_hash")),
    )
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("credential", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dedup_key", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _UTC, nullable=False),
        sa.Column("lease_until", _UTC, nullable=True),
        sa.Column("last_error", sa.String(64), nullable=True),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.Column("sent_at", _UTC, nullable=True),
        sa.CheckConstraint(_KINDS, name=op.f("ck_mail_outbox_kind")),
        sa.CheckConstraint(_STATES, name=op.f("ck_mail_outbox_status")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_mail_outbox_attempts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_mail_outbox_dedup_key")),
    )
    op.create_index(
        "ix_mail_outbox_status_next_attempt_at", "mail_outbox", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_mail_outbox_election_id_credential", "mail_outbox", ["election_id", "credential"]
    )
    op.create_table(
        "dev_mailbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("election_id", sa.String(36), nullable=False),
        sa.Column("recipient", sa.String(400), nullable=False),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_mailbox")),
    )
    op.create_index(op.f("ix_dev_mailbox_election_id"), "dev_mailbox", ["election_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dev_mailbox_election_id"), table_name="dev_mailbox")
    op.drop_table("dev_mailbox")
    op.drop_index("ix_mail_outbox_election_id_credential", table_name="mail_outbox")
    op.drop_index("ix_mail_outbox_status_next_attempt_at", table_name="mail_outbox")
    op.drop_table("mail_outbox")
    op.drop_table("voter_tokens")
