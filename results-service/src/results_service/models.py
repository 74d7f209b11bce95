"""The tables the results service owns: tallies, decryption shares, refused shares, results.

Exactly-once rules live in the database: one tally, one result per election (primary keys),
one share set per trustee of an election (primary key). A result stays invisible until
``published_at`` is set.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from securevote.db import Base

ELECTION_ID = String(36)
ACTOR = String(200)


class Tally(Base):
    """The homomorphic aggregate of an election's counted ballots, computed in batches.

    ``cursor`` is the last board index aggregated so far (-1 before the first batch),
    ``aggregate`` the running sums (``securevote.record.aggregate_document`` form), and
    ``processed``/``total`` the progress in counted ballots."""

    __tablename__ = "tallies"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'done')", name="status"),
        CheckConstraint("processed >= 0 AND processed <= total", name="processed"),
    )

    election_id: Mapped[str] = mapped_column(ELECTION_ID, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    board_size: Mapped[int] = mapped_column(BigInteger)
    board_root: Mapped[str] = mapped_column(String(64))
    total: Mapped[int] = mapped_column(BigInteger)
    processed: Mapped[int] = mapped_column(BigInteger)
    cursor: Mapped[int] = mapped_column(BigInteger)
    aggregate: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    started_by: Mapped[str] = mapped_column(ACTOR)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DecryptionShareSet(Base):
    """One trustee's valid decryption shares for every option (``tally/shares.json`` entry)."""

    __tablename__ = "decryption_shares"
    __table_args__ = (CheckConstraint("trustee_index >= 1", name="trustee_index"),)

    election_id: Mapped[str] = mapped_column(ELECTION_ID, primary_key=True)
    trustee_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    shares: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    submitted_by: Mapped[str] = mapped_column(ACTOR)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RejectedShare(Base):
    """A share submission that was refused (what was wrong, never the submitted values)."""

    __tablename__ = "rejected_shares"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    election_id: Mapped[str] = mapped_column(ELECTION_ID, index=True)
    trustee_index: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(300))
    submitted_by: Mapped[str] = mapped_column(ACTOR)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Result(Base):
    """The decrypted counts; secret until ``published_at`` is set."""

    __tablename__ = "results"

    election_id: Mapped[str] = mapped_column(ELECTION_ID, primary_key=True)
    ballot_count: Mapped[int] = mapped_column(BigInteger)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)  # results_document form
    trustees: Mapped[list[int]] = mapped_column(JSON)  # the k trustees combined
    reconciliation: Mapped[dict[str, Any]] = mapped_column(JSON)
    decrypted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str | None] = mapped_column(ACTOR)
