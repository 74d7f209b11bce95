"""Dependency aliases for the election service's routes (the shared ones re-exported).

Function checks happen here: anonymous → 401, a voter → 403, an admin without a role that
allows the action → 403. The object check (the election belongs to the caller's
organisation, else 404) happens in the service's queries.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Request

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
    "RollReader",
    "SessionDep",
    "SettingsDep",
]

READ_ROLES = (Role.OWNER, Role.ADMIN, Role.TRUSTEE, Role.OBSERVER)
EDIT_ROLES = (Role.OWNER, Role.ADMIN)
# The roll is personal data: only those who manage the election see it (data minimisation);
# trustees and observers see the number of voters in the election itself.
ROLL_READ_ROLES = EDIT_ROLES


def _require(admin: Principal, roles: tuple[Role, ...], what: str) -> Principal:
    if not admin.organisation_id or not admin.has_role(*roles):
        raise Problem(403, f"This needs the {what} role.", title="Forbidden")
    return admin


def require_reader(admin: CurrentAdmin) -> Principal:
    return _require(admin, READ_ROLES, "owner, admin, trustee or observer")


def require_editor(admin: CurrentAdmin) -> Principal:
    return _require(admin, EDIT_ROLES, "owner or admin")


def require_roll_reader(admin: CurrentAdmin) -> Principal:
    return _require(admin, ROLL_READ_ROLES, "owner or admin")


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


ElectionReader = Annotated[Principal, Depends(require_reader)]
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
