"""Election observers: the accounts (organisation role observer) that may read one election.

Who: owner, admin (naming and listing); trustees and observers: 403; another organisation:
404. Observers may be named at any state of the election.
"""

from __future__ import annotations

from fastapi import APIRouter

from election_service import observers
from election_service.api.deps import ElectionEditor, ElectionId, SessionDep, actor, org
from election_service.schemas import ObserversIn, ObserversOut

router = APIRouter(prefix="/api/elections/{election_id:uuid}", tags=["observers"])


@router.get("/observers")
async def get_observers(
    election_id: ElectionId, session: SessionDep, editor: ElectionEditor
) -> ObserversOut:
    """The accounts named to observe this election."""
    eid = str(election_id)
    ids = await observers.list_observers(session, organisation_id=org(editor), election_id=eid)
    return ObserversOut(election_id=eid, account_ids=ids)


@router.put("/observers")
async def set_observers(
    election_id: ElectionId, body: ObserversIn, session: SessionDep, editor: ElectionEditor
) -> ObserversOut:
    """Name the accounts that observe this election (replaces the list; at any state)."""
    eid = str(election_id)
    ids = await observers.set_observers(
        session,
        organisation_id=org(editor),
        election_id=eid,
        actor=actor(editor),
        account_ids=[str(a) for a in body.account_ids],
    )
    return ObserversOut(election_id=eid, account_ids=ids)
