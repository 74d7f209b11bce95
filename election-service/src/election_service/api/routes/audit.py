"""The audit log of one election: its entries, newest first, and whether the chain holds.

Who: the owners and admins of its organisation and its named observers; anyone else — its
named trustees too — gets 404, as for an election they cannot see (trustees check their own
steps through the ceremony status).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from election_service import audit_view
from election_service.access import MANAGER_ROLES
from election_service.api.deps import ElectionId, ElectionReader, SessionDep
from election_service.errors import NotFound
from election_service.schemas import AuditChainOut, AuditEntryOut, AuditPage
from securevote import audit
from securevote.auth import Principal, Role

router = APIRouter(prefix="/api/elections/{election_id:uuid}/audit", tags=["audit log"])
AUDIT_ROLES = (*MANAGER_ROLES, Role.OBSERVER)


def _audit_reader(reader: Principal) -> None:
    if not reader.has_role(*AUDIT_ROLES):
        raise NotFound("No such election.")


@router.get("")
async def audit_entries(
    election_id: ElectionId,
    session: SessionDep,
    reader: ElectionReader,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="entries below this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditPage:
    """A page of the election's audit entries, newest first (``next_before`` pages on)."""
    _audit_reader(reader)
    eid = str(election_id)
    entries, next_before = await audit_view.election_entries(
        session, election_id=eid, before=before, limit=limit
    )
    return AuditPage(
        election_id=eid,
        items=[
            AuditEntryOut(
                id=e.entry.id,
                occurred_at=e.occurred_at,
                service=e.entry.service,
                actor=e.actor,
                action=e.entry.action,
                target=e.target,
                outcome=e.entry.outcome,
                details=e.details,
                hidden_details=e.hidden,
                prev_hash=e.entry.prev_hash,
                entry_hash=e.entry.entry_hash,
            )
            for e in entries
        ],
        next_before=next_before,
    )


@router.get("/chain")
async def audit_chain(
    election_id: ElectionId, session: SessionDep, reader: ElectionReader
) -> AuditChainOut:
    """Recompute the whole log's hash chain (every service's entries: one chain) and say
    whether it holds, and where it first breaks. This reads the entire log."""
    _audit_reader(reader)
    report = await audit.verify_chain(session)
    return AuditChainOut(
        ok=report.ok,
        entries=report.entries,
        head=report.head,
        first_broken_id=report.first_broken_id,
        reason=report.reason,
    )
