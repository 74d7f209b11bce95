"""Reading the audit log of one election, for its organisers and named observers.

An entry belongs to an election when its target is the election, or when it concerns one of
its voters (target ``credential:…``, with the election in ``details.election``: a redeemed
or resent link, a failed delivery). What the reader sees is what the entry says, minus what
would tie a voter to a credential or an address: credentials in actors and targets read
``voter``, and the detail keys in :data:`HIDDEN_DETAILS` are left out (their names are
listed, so nothing is dropped silently). The hashes are shown as stored; whether the chain
holds is :func:`securevote.audit.verify_chain` over the whole log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from election_service.access import election_target
from securevote.audit import AuditEntry

# Pseudonymous voter credentials (the key of a ballot on the board) and voters' addresses.
HIDDEN_DETAILS = frozenset({"credentials", "client"})
VOTER_PREFIX = "credential:"


@dataclass(frozen=True)
class ShownEntry:
    entry: AuditEntry
    occurred_at: datetime  # UTC (SQLite gives it back naive)
    actor: str
    target: str
    details: dict[str, Any]
    hidden: list[str]


def _voter_masked(value: str) -> str:
    return "voter" if value.startswith(VOTER_PREFIX) else value


def shown(entry: AuditEntry) -> ShownEntry:
    details = dict(entry.details or {})
    hidden = sorted(key for key in details if key in HIDDEN_DETAILS)
    return ShownEntry(
        entry=entry,
        occurred_at=entry.occurred_at.replace(tzinfo=entry.occurred_at.tzinfo or UTC),
        actor=_voter_masked(entry.actor),
        target=_voter_masked(entry.target),
        details={k: v for k, v in details.items() if k not in HIDDEN_DETAILS},
        hidden=hidden,
    )


async def election_entries(
    session: AsyncSession, *, election_id: str, before: int | None, limit: int
) -> tuple[list[ShownEntry], int | None]:
    """Newest first, ``limit`` entries with an id below ``before``; and the ``before`` of the
    next page (None on the last)."""
    about_voter = AuditEntry.target.startswith(VOTER_PREFIX) & (
        AuditEntry.details["election"].as_string() == election_id
    )
    query = select(AuditEntry).where(
        or_(AuditEntry.target == election_target(election_id), about_voter)
    )
    if before is not None:
        query = query.where(AuditEntry.id < before)
    rows = list(
        (await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1))).all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return [shown(row) for row in rows], (rows[-1].id if more else None)
