"""Dependency aliases for the election service's routes (the shared ones re-exported).

Function checks happen here: anonymous → 401, a voter → 403, an admin without a role that
allows the action → 403. The object check happens against the database: for reading one
election, :data:`ElectionReader` loads it with ``access.readable_by`` (owner and admin: every
election of the organisation; trustee: those it is a named ceremony trustee of; observer:
those it is a named observer of; anyone else: 404); for changing, the service's queries
scope it to the caller's organisation (else 404).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Request

from election_service.access import MANAGER_ROLES, election_for_reader
from securevote.auth import Principal, Role
from securevote.db import Database
from securevote.deps import CurrentAdmin, CurrentPrincipal, SessionDep, SettingsDep
from securevote.errors import Problem

__all__ = [
    "CurrentAdmin",
    "CurrentPrincipal",
    "DatabaseDep",
    "ElectionEditor",
    "ElectionId",
    "ElectionReader",
    "OrganisationMember",
    "RollReader",
    "SessionDep",
    "SettingsDep",
]

READ_ROLES = (Role.OWNER, Role.ADMIN, Role.TRUSTEE, Role.OBSERVER)
EDIT_ROLES = MANAGER_ROLES
# The roll is personal data: only those who manage the election see it (data minimisation);
# trustees and observers see the number of voters in the election itself.
ROLL_READ_ROLES = EDIT_ROLES


def _require(admin: Principal, roles: tuple[Role, ...], what: str) -> Principal:
    if not admin.organisation_id or not admin.has_role(*roles):
        raise Problem(403, f"This needs the {what} role.", title="Forbidden")
    return admin


async def require_member(admin: CurrentAdmin) -> Principal:
    """A role of the organisation; which elections it sees is ``access.readable_by``."""
    return _require(admin, READ_ROLES, "owner, admin, trustee or observer")


async def require_election_reader(
    election_id: Annotated[uuid.UUID, Path(description="the election's id")],
    session: SessionDep,
    member: Annotated[Principal, Depends(require_member)],
) -> Principal:
    """A caller who may read this election (else 404); the request's session is shared."""
    await election_for_reader(session, principal=member, election_id=str(election_id))
    return member


async def require_editor(admin: CurrentAdmin) -> Principal:
    return _require(admin, EDIT_ROLES, "owner or admin")


async def require_roll_reader(admin: CurrentAdmin) -> Principal:
    return _require(admin, ROLL_READ_ROLES, "owner or admin")


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


# Listing, and the ceremony steps (whose service checks the election for the caller itself).
OrganisationMember = Annotated[Principal, Depends(require_member)]
# Reading one election (``election_id`` in the path): 404 unless the caller may see it.
ElectionReader = Annotated[Principal, Depends(require_election_reader)]
ElectionEditor = Annotated[Principal, Depends(require_editor)]
RollReader = Annotated[Principal, Depends(require_roll_reader)]
DatabaseDep = Annotated[Database, Depends(get_database)]
ElectionId = Annotated[uuid.UUID, Path(description="the election's id")]


def org(principal: Principal) -> str:
    """The caller's organisation (checked to be present by the role dependencies)."""
    assert principal.organisation_id is not None
    return principal.organisation_id


def actor(principal: Principal) -> str:
    return f"admin:{principal.subject}"
