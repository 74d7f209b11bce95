"""The tables the results service owns: tallies, decryption shares, refused shares, results,
and the stored election record.

Exactly-once rules live in the database: one tally, one result, one stored record per
election (primary keys), one share set per trustee of an election (primary key). A result
stays invisible until ``published_at`` is set.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from securevote.db import Base

ELECTION_ID = String(36)
ACTOR = String(200)


class Tally(Base):
    """The homomorphic aggregate of an election's counted ballots, computed in batches.

    ``cursor`` is the last board index aggregated so far (-1 before the first batch),
    ``aggregate`` the running sums (``securevote.record.aggregate_document`` form), and
    ``processed``/``total`` the progress in counted ballots. A tally that meets a counted
    ballot it cannot add stops as ``failed`` with ``failure`` (which board index and why,
    never the ballot's content) until an administrator restarts it."""

    __tablename__ = "tallies"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'done', 'failed')", name="status"),
        CheckConstraint("(status = 'failed') = (failure IS NOT NULL)", name="failure"),
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
    failure: Mapped[str | None] = mapped_column(String(300))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


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


class ElectionRecord(Base):
    """The election record of a published election, built once and kept: its SHA-256 (the
    download's ETag), its size and how many chunks hold it. The primary key makes the build
    happen exactly once however many first requests race; rows are never changed."""

    __tablename__ = "election_records"

    election_id: Mapped[str] = mapped_column(ELECTION_ID, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    chunks: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ElectionRecordChunk(Base):
    """One piece of a stored record (the archive's bytes in order), so that a large record is
    written and served a piece at a time, never held whole in memory."""

    __tablename__ = "election_record_chunks"

    election_id: Mapped[str] = mapped_column(ELECTION_ID, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
