"""The tables the election service owns: elections, questions, options, the voter roll, and
the key ceremony (named trustees, their steps, encrypted shares, complaints).

Voters' personal data (email, name, external id) lives only here. The roll secret (a date of
birth) is never stored, only an HMAC of its normalised form (see ``roll_secret``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false
from sqlalchemy.types import TypeDecorator

from securevote.db import Base

STATES = ("draft", "frozen", "open", "closed", "tallied", "published")
SECOND_FACTORS = ("none", "date_of_birth")
QUESTION_KINDS = ("plurality", "approval", "k_of_n")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC. SQLite keeps no offset and hands back naive values,
    so values are converted to UTC on the way in and marked UTC on the way out; comparisons
    in SQL then work the same on both databases."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("only timezone-aware datetimes can be stored")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_id() -> str:
    """A random identifier for elections, questions and options."""
    return str(uuid.uuid4())


def _state_check() -> str:
    return "state IN (" + ", ".join(f"'{state}'" for state in STATES) + ")"


class Election(Base):
    __tablename__ = "elections"
    __table_args__ = (
        CheckConstraint(_state_check(), name="state"),
        CheckConstraint("closes_at > opens_at", name="window"),
        CheckConstraint(
            "second_factor IN (" + ", ".join(f"'{f}'" for f in SECOND_FACTORS) + ")",
            name="second_factor",
        ),
        CheckConstraint(
            "threshold IS NULL OR (threshold >= 1 AND threshold <= trustee_count)",
            name="threshold",
        ),
        Index("ix_elections_organisation_id_created_at", "organisation_id", "created_at"),
        Index("ix_elections_state_opens_at", "state", "opens_at"),
        Index("ix_elections_state_closes_at", "state", "closes_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    time_zone: Mapped[str] = mapped_column(String(64))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    allow_revoting: Mapped[bool] = mapped_column(Boolean)
    second_factor: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    trustee_count: Mapped[int | None] = mapped_column(Integer)
    threshold: Mapped[int | None] = mapped_column(Integer)
    joint_public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Demo mode: the server is the single trustee (n = k = 1) and holds its key share.
    server_trustee: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Fixed at freezing: {"manifest", "trustees", "threshold"} as securevote.record's
    # context_from_documents takes them, and the election hash (hex) they give.
    context_document: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    election_hash: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tallied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    questions: Mapped[list[Question]] = relationship(
        order_by="Question.position", cascade="all, delete-orphan", passive_deletes=True
    )


class Question(Base):
    """ "Select between ``min_selections`` and ``max_selections`` of these options"."""

    __tablename__ = "questions"
    __table_args__ = (
        UniqueConstraint("election_id", "position"),
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in QUESTION_KINDS) + ")", name="kind"
        ),
        CheckConstraint(
            "min_selections >= 0 AND max_selections >= 1 AND max_selections >= min_selections",
            name="selections",
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    election_id: Mapped[str] = mapped_column(ForeignKey("elections.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    min_selections: Mapped[int] = mapped_column(Integer)
    max_selections: Mapped[int] = mapped_column(Integer)

    options: Mapped[list[Option]] = relationship(
        order_by="Option.position", cascade="all, delete-orphan", passive_deletes=True
    )


class Option(Base):
    __tablename__ = "options"
    __table_args__ = (UniqueConstraint("question_id", "position"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    question_id: Mapped[str] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)


class Voter(Base):
    """One entry of an election's roll.

    ``email_key`` (the NFC, case-folded email) makes duplicates impossible within a roll.
    ``credential`` is random (never derived from the email) and identifies the voter to the
    other services without personal data.
    """

    __tablename__ = "voters"
    __table_args__ = (
        UniqueConstraint("election_id", "email_key"),
        UniqueConstraint("credential"),
    )

    # SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    election_id: Mapped[str] = mapped_column(ForeignKey("elections.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(100))
    secret_digest: Mapped[str | None] = mapped_column(String(64))
    credential: Mapped[str] = mapped_column(String(64))


# --- Key ceremony (docs/protocol.md §4; election_service.ceremony) -------------------------

CEREMONY_STEPS = ("register", "deal", "verify")
COMPLAINT_RESOLUTIONS = ("answered", "disqualified")


class CeremonyTrustee(Base):
    """Trustee ``trustee_index`` (1..n, the order named) of an election: an account of the
    organisation with the trustee role (``account_id`` is None only for the server trustee)."""

    __tablename__ = "ceremony_trustees"
    __table_args__ = (
        UniqueConstraint("election_id", "account_id"),
        CheckConstraint("trustee_index >= 1", name="trustee_index"),
    )

    election_id: Mapped[str] = mapped_column(
        ForeignKey("elections.id", ondelete="CASCADE"), primary_key=True
    )
    trustee_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    account_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))


class ElectionObserver(Base):
    """An account named to observe one election. An account whose organisation role is
    observer sees only the elections it is named for (``access.readable_by``). Not part of
    the election's definition: observers may be named at any state."""

    __tablename__ = "election_observers"
    __table_args__ = (Index("ix_election_observers_account_id", "account_id"),)

    election_id: Mapped[str] = mapped_column(
        ForeignKey("elections.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class KeyCeremony(Base):
    """The current attempt of an election's key ceremony. ``ceremony_id`` changes whenever it
    is reset; ``manifest`` is the manifest the parameters were fixed with (at the first
    dealing), ``completed_at`` is set once the joint key is known."""

    __tablename__ = "key_ceremonies"

    election_id: Mapped[str] = mapped_column(
        ForeignKey("elections.id", ondelete="CASCADE"), primary_key=True
    )
    ceremony_id: Mapped[str] = mapped_column(String(36))
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    manifest_hash: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CeremonyStep(Base):
    """One step of one trustee, at most once (the unique constraint): ``register`` (its box
    public key), ``deal`` (its commitment), ``verify`` (ok, or the senders it accuses)."""

    __tablename__ = "ceremony_steps"
    __table_args__ = (
        UniqueConstraint("election_id", "trustee_index", "step"),
        CheckConstraint(
            "step IN (" + ", ".join(f"'{s}'" for s in CEREMONY_STEPS) + ")", name="step"
        ),
    )

    # SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    election_id: Mapped[str] = mapped_column(ForeignKey("elections.id", ondelete="CASCADE"))
    trustee_index: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CeremonyShare(Base):
    """The sealed box with f_sender(recipient), readable only by the recipient."""

    __tablename__ = "ceremony_shares"

    election_id: Mapped[str] = mapped_column(
        ForeignKey("elections.id", ondelete="CASCADE"), primary_key=True
    )
    sender: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recipient: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sealed_box: Mapped[bytes] = mapped_column(LargeBinary)


class CeremonyComplaint(Base):
    """``accuser`` found ``accused``'s share bad. The accused answers by revealing the share
    (public, protocol §4.3): ``answered`` if it matches its commitments, else
    ``disqualified``."""

    __tablename__ = "ceremony_complaints"
    __table_args__ = (
        CheckConstraint(
            "resolution IS NULL OR resolution IN ("
            + ", ".join(f"'{r}'" for r in COMPLAINT_RESOLUTIONS)
            + ")",
            name="resolution",
        ),
    )

    election_id: Mapped[str] = mapped_column(
        ForeignKey("elections.id", ondelete="CASCADE"), primary_key=True
    )
    accuser: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    accused: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    reason: Mapped[str] = mapped_column(String(100))
    revealed_share: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ServerTrusteeKey(Base):
    """Demo mode only: the server trustee's KeyShare, encrypted with XChaCha20-Poly1305 under
    a key derived from the server secret (``election_service.server_trustee``)."""

    __tablename__ = "server_trustee_keys"

    election_id: Mapped[str] = mapped_column(
        ForeignKey("elections.id", ondelete="CASCADE"), primary_key=True
    )
    ceremony_id: Mapped[str] = mapped_column(String(36))
    sealed_key_share: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
