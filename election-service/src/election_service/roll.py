"""The voter roll: CSV import, paging and search, removal before freezing.

Import keeps the valid rows and reports the others by line, column and reason. Emails that
are already on the roll are refused by line; the ``(election_id, email_key)`` unique
constraint backs this up. Rows go in with COPY on PostgreSQL (multi-row inserts in batches
on SQLite), so 100,000 voters take a few seconds. Each voter gets a random 192-bit credential from
``secrets`` (never derived from the email); a unique constraint makes it unique.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from election_service.access import SERVICE, election_for_change, election_target
from election_service.csv_roll import ParsedRoll, RowError, parse_roll
from election_service.errors import Conflict, NotFound
from election_service.models import Voter
from securevote import audit
from securevote.roll_secret import secret_digest

INSERT_BATCH = 5_000
LOOKUP_BATCH = 1_000
MAX_REPORTED_ERRORS = 1_000
UNIQUE_VIOLATION = "23505"  # PostgreSQL SQLSTATE


def new_credential() -> str:
    """A pseudonymous voter credential: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


@dataclass
class ImportResult:
    parsed: ParsedRoll
    imported: int
    errors: list[RowError]

    @property
    def rejected(self) -> int:
        return self.parsed.data_rows - self.imported


_COPY_COLUMNS = (
    "election_id",
    "email",
    "email_key",
    "name",
    "external_id",
    "secret_digest",
    "credential",
)


async def _insert_voters(session: AsyncSession, values: list[dict[str, str | None]]) -> None:
    """Insert the rows in the caller's transaction: with COPY on PostgreSQL (several times
    faster than multi-row INSERTs), in batches of multi-row INSERTs elsewhere."""
    if not values:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        try:
            await driver.copy_records_to_table(
                Voter.__tablename__,
                records=[tuple(row[column] for column in _COPY_COLUMNS) for row in values],
                columns=_COPY_COLUMNS,
            )
        except Exception as exc:  # the driver's own error here, not SQLAlchemy's
            if getattr(exc, "sqlstate", None) == UNIQUE_VIOLATION:
                raise Conflict("The roll changed meanwhile; import the file again.") from exc
            raise
        return
    for start in range(0, len(values), INSERT_BATCH):
        await session.execute(insert(Voter), values[start : start + INSERT_BATCH])


async def _already_on_roll(
    session: AsyncSession, election_id: str, keys: Sequence[str]
) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), LOOKUP_BATCH):
        chunk = keys[start : start + LOOKUP_BATCH]
        rows = await session.scalars(
            select(Voter.email_key).where(
                Voter.election_id == election_id, Voter.email_key.in_(chunk)
            )
        )
        found.update(rows)
    return found


async def import_roll(
    session: AsyncSession,
    *,
    organisation_id: str,
    election_id: str,
    actor: str,
    data: bytes,
    server_secret: bytes,
    now: datetime,
) -> ImportResult:
    """Parse ``data`` (CSV bytes) and add its valid rows to a draft election's roll.

    Raises RollFileError (from ``csv_roll``) if the file as a whole cannot be read.
    """
    election = await election_for_change(
        session, organisation_id=organisation_id, election_id=election_id
    )
    parsed = parse_roll(
        data, today=now.date(), require_date_of_birth=election.second_factor == "date_of_birth"
    )
    errors = list(parsed.errors)
    rows = parsed.rows
    existing_count = await session.scalar(
        select(func.count()).select_from(Voter).where(Voter.election_id == election_id)
    )
    if existing_count:
        taken = await _already_on_roll(session, election_id, [row.email_key for row in rows])
        if taken:
            errors.extend(
                RowError(row.line, "email", "email already on the roll")
                for row in rows
                if row.email_key in taken
            )
            rows = [row for row in rows if row.email_key not in taken]
    errors.sort(key=lambda error: error.line)
    values = [
        {
            "election_id": election_id,
            "email": row.email,
            "email_key": row.email_key,
            "name": row.name,
            "external_id": row.external_id,
            "secret_digest": None
            if row.date_of_birth is None
            else secret_digest(
                server_secret, election_id=election_id, normalised=row.date_of_birth
            ),
            "credential": new_credential(),
        }
        for row in rows
    ]
    await _insert_voters(session, values)
    election.updated_at = now
    result = ImportResult(parsed=parsed, imported=len(values), errors=errors)
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action="roll.import",
        target=election_target(election_id),
        details={
            "rows": parsed.data_rows,
            "imported": result.imported,
            "rejected": result.rejected,
        },
    )
    return result


async def list_voters(
    session: AsyncSession,
    *,
    election_id: str,
    search: str | None,
    page: int,
    per_page: int,
) -> tuple[list[Voter], int]:
    """A page of the roll in import order; ``search`` matches email, name or external id
    (case-insensitive substring)."""
    query = select(Voter).where(Voter.election_id == election_id)
    if search:
        needle = search.casefold()
        query = query.where(
            or_(
                Voter.email_key.contains(needle, autoescape=True),
                func.lower(Voter.name).contains(needle, autoescape=True),
                func.lower(Voter.external_id).contains(needle, autoescape=True),
            )
        )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(Voter.id).limit(per_page).offset((page - 1) * per_page)
    )
    return list(rows), int(total or 0)


async def remove_voter(
    session: AsyncSession,
    *,
    organisation_id: str,
    election_id: str,
    voter_id: int,
    actor: str,
    now: datetime,
) -> None:
    election = await election_for_change(
        session, organisation_id=organisation_id, election_id=election_id
    )
    result = await session.execute(
        delete(Voter)
        .where(Voter.id == voter_id, Voter.election_id == election_id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound("No such voter on this roll.")
    election.updated_at = now
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action="roll.remove_voter",
        target=election_target(election_id),
        details={"voter_id": voter_id},
    )


async def clear_roll(
    session: AsyncSession,
    *,
    organisation_id: str,
    election_id: str,
    actor: str,
    now: datetime,
) -> int:
    """Remove every voter of a draft election; returns how many."""
    election = await election_for_change(
        session, organisation_id=organisation_id, election_id=election_id
    )
    result = await session.execute(
        delete(Voter)
        .where(Voter.election_id == election_id)
        .execution_options(synchronize_session=False)
    )
    removed = int(result.rowcount)  # type: ignore[attr-defined]
    election.updated_at = now
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action="roll.clear",
        target=election_target(election_id),
        details={"removed": removed},
    )
    return removed
