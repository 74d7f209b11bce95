"""Who may read an election: the one rule, applied by every service that shows one.

- The owners and admins of the election's organisation read every election of it.
- An account whose organisation role is trustee reads the elections it is a named ceremony
  trustee of; an account whose role is observer, the elections it is a named observer of.
- Nobody else reads it, and to them it does not exist: services answer 404, never 403, and
  listings leave it out.

The rule is a SQL condition over an election's id and organisation columns, so a listing filters
with it and a single read loads with it, in one query. The named trustees and observers are read
from the election service's tables by name (``ceremony_trustees``, ``election_observers``), so
this library imports no service and a service that does not own those tables (results) applies
the very same rule.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, column, false, or_, select, table

from securevote.auth import Principal, PrincipalKind, Role

# Roles that see every election of their organisation.
MANAGER_ROLES = (Role.OWNER, Role.ADMIN)

_ceremony_trustees = table("ceremony_trustees", column("election_id"), column("account_id"))
_election_observers = table("election_observers", column("election_id"), column("account_id"))


def readable_by(
    principal: Principal,
    *,
    election_id: SQLColumnExpression[str],
    organisation_id: SQLColumnExpression[str],
) -> ColumnElement[bool]:
    """The condition on an election (given its id and organisation columns) that holds for
    exactly the elections ``principal`` may read."""
    if principal.kind is not PrincipalKind.ADMIN or principal.organisation_id is None:
        return false()
    in_organisation = organisation_id == principal.organisation_id
    if principal.has_role(*MANAGER_ROLES):
        return in_organisation
    named: list[ColumnElement[bool]] = []
    for role, names in ((Role.TRUSTEE, _ceremony_trustees), (Role.OBSERVER, _election_observers)):
        if principal.has_role(role):
            named.append(
                election_id.in_(
                    select(names.c.election_id).where(names.c.account_id == principal.subject)
                )
            )
    if not named:
        return false()
    return and_(in_organisation, or_(*named))
