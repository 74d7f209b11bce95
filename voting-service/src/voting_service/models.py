"""The tables the voting service owns: the ballot box and the bulletin board.

``ballots`` *is* the board: one immutable row per accepted ballot, numbered gaplessly per
election by ``board_index``. Which ballot of a credential counts lives in ``counted_ballots``
(one row per credential: the primary key makes a second counted ballot impossible), so board
rows never change. ``board_state`` is the per-election row every append locks (the counter of
the next index, and the seal). ``board_heads`` are the signed tree heads; ``spoiled_ballots``
the Benaloh-audited ballots (never on the board, never counted).

Privacy: no row here carries a time, a client address or a user agent; a ballot carries only
its index (tree heads carry time, for the whole board).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from securevote.db import Base

ELECTION_ID = String(36)
CREDENTIAL = String(200)
IDEMPOTENCY_KEY = String(128)


class Ballot(Base):
    """A cast ballot on the board (append-only; triggers refuse UPDATE and DELETE)."""

    __tablename__ = "ballots"
    __table_args__ = (
        CheckConstraint("board_index >= 0", name="board_index"),
        UniqueConstraint("election_id", "tracker"),
        UniqueConstraint("election_id", "credential", "idempotency_key"),
    )

    election_id: Mapped[str] = mapped_column(ELECTION_ID, primary_key=True)
    board_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    credential: Mapped[str] = mapped_column(CREDENTIAL)
    tracker: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    ballot: Mapped[str] = mapped_column(Text)  # RFC 8785 JSON of the encrypted ballot
    idempotency_key: Mapped[str | None] = mapped_column(IDEMPOTENCY_KEY, nullable=True)


class CountedBallot(Base):
    """The one ballot that counts for a credential (re-voting moves it to a later index)."""

    __tablename__ = "counted_ballots"
    __table_args__ = (
        UniqueConstraint("election_id", "board_index"),
        ForeignKeyConstraint(
            ["election_id", "board_index"], ["ballots.election_id", "ballots.board_index"]
        ),
    )

    election_id: Mapped[str] = mapped_column(ELECTION_ID, primary_key=True)
    credential: Mapped[str] = mapped_column(CREDENTIAL, primary_key=True)
    board_index: Mapped[int] = mapped_column(BigInteger)


class BoardState(Base):
    """Per election: the size of the board (the next index) and whether it is sealed.

    Every append locks this row, so appends to one election are serialised and each gets the
    next index exactly once."""

    __tablename__ = "board_state"
    __table_args__ = (CheckConstraint("size >= 0", name="size"),)

    election_id: Mapped[str] = mapped_column(ELECTION_ID, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sealed: Mapped[bool] = mapped_column(Boolean)


class BoardHead(Base):
    """A signed tree head (docs/protocol.md §9.6); ``final`` marks the seal."""

    __tablename__ = "board_heads"
    __table_args__ = (
        UniqueConstraint("election_id", "size", "final"),
        CheckConstraint("size >= 0", name="size"),
        Index("ix_board_heads_election_id_id", "election_id", "id"),  # the latest head
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    election_id: Mapped[str] = mapped_column(ELECTION_ID)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    final: Mapped[bool] = mapped_column(Boolean)


class SpoiledBallot(Base):
    """A Benaloh-audited ballot with its revealed seed and choices (never counted)."""

    __tablename__ = "spoiled_ballots"
    __table_args__ = (UniqueConstraint("election_id", "tracker"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    election_id: Mapped[str] = mapped_column(ELECTION_ID)
    tracker: Mapped[bytes] = mapped_column(LargeBinary)
    ballot: Mapped[str] = mapped_column(Text)
    seed: Mapped[bytes] = mapped_column(LargeBinary)
    choices: Mapped[str] = mapped_column(Text)  # RFC 8785 JSON {question: [options, sorted]}
