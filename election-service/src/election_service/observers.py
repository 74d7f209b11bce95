"""Election observers: the accounts named to observe one election.

An account whose organisation role is observer sees only the elections it is named for
(``access.readable_by``). The owners and admins name them, at any state: observers are not
part of what defines an election (they live apart from ``elections`` and its triggers).
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from election_service.access import (
    SERVICE,
    election_for_read,
    election_locked,
    election_target,
)
from election_service.models import ElectionObserver
from securevote import audit


async def observers_of(session: AsyncSession, *, election_id: str) -> list[str]:
    rows = await session.scalars(
        select(ElectionObserver.account_id)
        .where(ElectionObserver.election_id == election_id)
        .order_by(ElectionObserver.account_id)
    )
    return list(rows)


async def list_observers(
    session: AsyncSession, *, organisation_id: str, election_id: str
) -> list[str]:
    await election_for_read(session, organisation_id=organisation_id, election_id=election_id)
    return await observers_of(session, election_id=election_id)


async def set_observers(
    session: AsyncSession,
    *,
    organisation_id: str,
    election_id: str,
    actor: str,
    account_ids: list[str],
) -> list[str]:
    """Replace the election's observers (audited with the account ids only)."""
    # The election's row lock serialises concurrent replacements of the list.
    await election_locked(session, organisation_id=organisation_id, election_id=election_id)
    before = set(await observers_of(session, election_id=election_id))
    after = set(account_ids)
    removed = sorted(before - after)
    added = sorted(after - before)
    if removed:
        await session.execute(
            delete(ElectionObserver).where(
                ElectionObserver.election_id == election_id,
                ElectionObserver.account_id.in_(removed),
            )
        )
    if added:
        await session.execute(
            insert(ElectionObserver),
            [{"election_id": election_id, "account_id": a} for a in added],
        )
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action="election.observers.set",
        target=election_target(election_id),
        details={"account_ids": sorted(after), "added": added, "removed": removed},
    )
    return sorted(after)
