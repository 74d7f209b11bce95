"""The tables the auth service owns: organisations, accounts, refresh tokens, and for voter
access the voter tokens, the mail outbox and the dev mailbox.

Uniqueness that matters for security is enforced by the database, not only checked in code:
one account per normalised e-mail address (``email_key``), one row per refresh-token hash.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from securevote.db import Base


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # NFC + casefold of the name: "ACME" and "acme" are one organisation.
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Account(Base):
    """An organiser, trustee or observer of one organisation (never a voter)."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("role IN ('owner', 'admin', 'trustee', 'observer')", name="role"),
        CheckConstraint("failed_logins >= 0", name="failed_logins"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("organisations.id"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    # NFC + casefold of the address: the key that makes e-mail addresses unique.
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    # The TOTP secret, encrypted with a key derived from the server secret. Set at
    # enrolment; login needs a code only once ``totp_enabled_at`` is set (after confirmation).
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last accepted time step: a code is accepted at most once.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RefreshToken(Base):
    """One refresh token of a login session ("family"). Only a keyed hash is stored.

    Each refresh spends the presented token (``used_at``) and issues the next one in the
    same family; presenting a spent token again means it was copied, so the whole family
    is revoked.
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.id"), index=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- Voter access (issue 5) ------------------------------------------------------------------

OUTBOX_KINDS = ("invitation", "reminder", "resend")
OUTBOX_STATES = ("pending", "sending", "sent", "failed", "cancelled")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


class VoterToken(Base):
    """The current one-time token of one voter in one election: only its keyed hash.

    One row per (election, credential): issuing a new token replaces the hash in place, so
    the previous token stops working at that moment and concurrent issuance for one voter
    leaves exactly one valid token (the unique constraint decides a race between inserts).
    ``secret_digest`` is copied from the frozen roll, so redemption needs no personal data.
    """

    __tablename__ = "voter_tokens"
    __table_args__ = (
        UniqueConstraint("election_id", "credential"),
        CheckConstraint("generation >= 1", name="generation"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    election_id: Mapped[str] = mapped_column(String(36))
    credential: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # How many tokens this voter has been issued; part of the deterministic test tokens.
    generation: Mapped[int] = mapped_column(Integer)
    secret_digest: Mapped[str | None] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set when a redemption finds the voter's ballot stored and re-voting is off.
    spent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MailMessage(Base):
    """The transactional outbox: one mail to one voter, without the address or the token.

    The worker reads the address from the roll and issues the token when it sends, so no
    raw token is ever stored. ``dedup_key`` makes each invitation (and each resend or
    reminder round) exist once, however many workers or admins ask at the same time.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (
        CheckConstraint(_one_of("kind", OUTBOX_KINDS), name="kind"),
        CheckConstraint(_one_of("status", OUTBOX_STATES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("ix_mail_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_mail_outbox_election_id_credential", "election_id", "credential"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    election_id: Mapped[str] = mapped_column(String(36))
    credential: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # While a worker holds the message ("sending"); a crashed worker's claim lapses here.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A category ("recipient_refused", "gave_up", …), never the server's text or an address.
    last_error: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DevMail(Base):
    """The local mailbox used instead of SMTP when none is configured (dev and test only;
    the mail worker never writes here in prod mode). It holds whole mails, links included."""

    __tablename__ = "dev_mailbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36))
    election_id: Mapped[str] = mapped_column(String(36), index=True)
    recipient: Mapped[str] = mapped_column(String(400))
    subject: Mapped[str] = mapped_column(String(400))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
