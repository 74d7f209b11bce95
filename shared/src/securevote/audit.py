"""The append-only, hash-chained audit log that every service writes to.

Each entry's hash covers its own fields and the previous entry's hash, so editing, deleting,
reordering or inserting an entry breaks the chain from that point on; ``verify_chain`` names
the first entry where it breaks. The database enforces the rest:

- a unique constraint on ``prev_hash``: two entries can never claim the same predecessor, so
  concurrent writers cannot fork the chain (on PostgreSQL appends are also serialised with a
  transaction-scoped advisory lock; SQLite serialises writers by itself);
- on PostgreSQL, triggers refuse UPDATE, DELETE and TRUNCATE (migration 0001).

Truncating the newest entries cannot be seen from the chain alone; the head hash is exported
with every audit export so that a later, shorter chain is evident (docs/runbooks).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from securevote.db import Base

GENESIS_HASH = "0" * 64
HASH_DOMAIN = b"securevote/v1/audit-entry\x00"
# Any constant that no other code uses as an advisory lock key.
_PG_ADVISORY_LOCK_KEY = 0x5EC07E_A0D17


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class AuditEntry(Base):
    __tablename__ = "audit_log"

    # SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    service: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


def entry_hash(
    *,
    prev_hash: str,
    occurred_at: datetime,
    service: str,
    actor: str,
    action: str,
    target: str,
    outcome: str,
    details: Mapping[str, Any],
) -> str:
    """SHA-256 over a domain tag and the canonical JSON of the entry and its predecessor."""
    document = {
        "prev_hash": prev_hash,
        "occurred_at": _utc_iso(occurred_at),
        "service": service,
        "actor": actor,
        "action": action,
        "target": target,
        "outcome": outcome,
        "details": details,
    }
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(HASH_DOMAIN + encoded.encode()).hexdigest()


def _utc_iso(moment: datetime) -> str:
    """Microsecond ISO-8601 in UTC; SQLite returns naive datetimes, which we store as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def record(
    session: AsyncSession,
    *,
    service: str,
    actor: str,
    action: str,
    target: str = "",
    outcome: Outcome = Outcome.SUCCESS,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry inside the caller's transaction, so it commits with the change it
    describes or not at all. ``details`` must never hold a secret, token or ballot content.

    On PostgreSQL appending takes the log's one global lock until the transaction ends, so
    every audited write of every service queues here (SQLite holds its write lock for the
    whole transaction anyway): call it as the last statement before the commit, after the
    reads and writes of the change itself. The work under the lock stays constant: one
    indexed read of the head (``LIMIT 1``: without it the drivers fetch every hash of the
    log, and each append would be slower than the one before), one insert."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_ADVISORY_LOCK_KEY}
        )
    last = await session.scalar(
        select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
    )
    prev = last or GENESIS_HASH
    fields: dict[str, Any] = {
        "occurred_at": datetime.now(UTC),
        "service": service,
        "actor": actor,
        "action": action,
        "target": target,
        "outcome": str(outcome),
        "details": dict(details or {}),
    }
    entry = AuditEntry(prev_hash=prev, entry_hash=entry_hash(prev_hash=prev, **fields), **fields)
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head: str
    first_broken_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None


async def verify_chain(session: AsyncSession, *, batch_size: int = 5000) -> ChainReport:
    """Recompute the chain in id order; stop at the first entry that does not fit."""
    return await _walk(session, batch_size=batch_size)


async def export_chain(
    session: AsyncSession, out: TextIO, *, batch_size: int = 5000
) -> ChainReport:
    """Write every entry to ``out`` as one JSON line (``export_line``), in id order, while
    verifying the chain; nothing after the first broken entry is written.

    An export is what the nightly job ships to object storage: it can be verified offline
    (``verify_export``), and the head hash of an earlier export must appear in every later one,
    which shows a truncated or rewritten log even to someone without database access."""
    return await _walk(
        session, batch_size=batch_size, write=lambda row: out.write(export_line(row))
    )


def export_line(row: AuditEntry) -> str:
    document = {
        "id": row.id,
        "prev_hash": row.prev_hash,
        "entry_hash": row.entry_hash,
        "occurred_at": _utc_iso(row.occurred_at),
        **_content(row),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def verify_export(lines: Iterable[str], *, previous_head: str | None = None) -> ChainReport:
    """Recompute the chain of an export file. With ``previous_head`` (the head of an earlier
    export), that entry must be in this one: otherwise the log was cut or rewritten since."""
    prev = GENESIS_HASH
    count = 0
    seen_previous = previous_head in (None, GENESIS_HASH)
    for number, line in enumerate(lines, start=1):
        try:
            document = json.loads(line)
            occurred_at = datetime.strptime(document["occurred_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
            content = {name: document[name] for name in _CONTENT}
            claimed_prev, claimed_hash, entry_id = (
                document["prev_hash"],
                document["entry_hash"],
                int(document["id"]),
            )
        except (ValueError, KeyError, TypeError):
            return ChainReport(count, prev, number, f"line {number} is not an audit entry")
        if claimed_prev != prev:
            return ChainReport(count, prev, entry_id, "previous hash does not match")
        if claimed_hash != entry_hash(prev_hash=prev, occurred_at=occurred_at, **content):
            return ChainReport(count, prev, entry_id, "entry hash does not match its content")
        prev = claimed_hash
        count += 1
        seen_previous = seen_previous or prev == previous_head
    if not seen_previous:
        return ChainReport(count, prev, 0, "the earlier export's head is not in this export")
    return ChainReport(count, prev)


#: the hashed fields of an entry besides its time and predecessor
_CONTENT = ("service", "actor", "action", "target", "outcome", "details")


def _content(row: AuditEntry) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _CONTENT}


async def _walk(
    session: AsyncSession,
    *,
    batch_size: int,
    write: Callable[[AuditEntry], object] | None = None,
) -> ChainReport:
    prev = GENESIS_HASH
    count = 0
    last_id = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.id > last_id)
                .order_by(AuditEntry.id)
                .limit(batch_size)
            )
        ).all()
        if not rows:
            return ChainReport(entries=count, head=prev)
        for row in rows:
            if row.prev_hash != prev:
                return ChainReport(count, prev, row.id, "previous hash does not match")
            expected = entry_hash(
                prev_hash=row.prev_hash, occurred_at=row.occurred_at, **_content(row)
            )
            if row.entry_hash != expected:
                return ChainReport(count, prev, row.id, "entry hash does not match its content")
            if write is not None:
                write(row)
            prev = row.entry_hash
            count += 1
            last_id = row.id
