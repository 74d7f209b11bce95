"""Read-only views of tables other services own: the election service's ``elections`` and
``voters`` and the voting service's ``ballots`` (ADR 0007).

The auth service never writes these and never imports those services: it names only the
columns it needs, with SQLAlchemy Core. The columns that matter here are fixed once an
election is frozen (database triggers refuse changes), so reading them directly is as good
as a copy and avoids a service-to-service call per voter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, String, column, exists, select, table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

ELECTIONS = table(
    "elections",
    column("id", String),
    column("organisation_id", String),
    column("title", String),
    column("time_zone", String),
    column("opens_at", DateTime(timezone=True)),
    column("closes_at", DateTime(timezone=True)),
    column("allow_revoting", Boolean),
    column("second_factor", String),
    column("state", String),
)
VOTERS = table(
    "voters",
    column("id", Integer),
    column("election_id", String),
    column("email", String),
    column("name", String),
    column("secret_digest", String),
    column("credential", String),
)
# Written by the voting service: one row per stored ballot, with these two columns.
BALLOTS = table("ballots", column("election_id", String), column("credential", String))

OPEN = "open"
SECOND_FACTOR_DATE_OF_BIRTH = "date_of_birth"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class ElectionView:
    id: str
    organisation_id: str
    title: str
    time_zone: str
    opens_at: datetime
    closes_at: datetime
    allow_revoting: bool
    second_factor: str
    state: str

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    @property
    def needs_roll_secret(self) -> bool:
        return self.second_factor == SECOND_FACTOR_DATE_OF_BIRTH

    @classmethod
    def from_row(cls, row: Any) -> ElectionView:
        return cls(
            id=row.id,
            organisation_id=row.organisation_id,
            title=row.title,
            time_zone=row.time_zone,
            opens_at=_utc(row.opens_at),
            closes_at=_utc(row.closes_at),
            allow_revoting=bool(row.allow_revoting),
            second_factor=row.second_factor,
            state=row.state,
        )


@dataclass(frozen=True)
class VoterView:
    id: int
    election_id: str
    email: str
    name: str | None
    secret_digest: str | None
    credential: str


async def election(session: AsyncSession, election_id: str) -> ElectionView | None:
    row = (await session.execute(select(ELECTIONS).where(ELECTIONS.c.id == election_id))).first()
    return ElectionView.from_row(row) if row is not None else None


async def open_election_ids(session: AsyncSession) -> list[str]:
    query = select(ELECTIONS.c.id).where(ELECTIONS.c.state == OPEN).order_by(ELECTIONS.c.id)
    return list((await session.scalars(query)).all())


def _voter(row: Any) -> VoterView:
    return VoterView(
        id=int(row.id),
        election_id=row.election_id,
        email=row.email,
        name=row.name,
        secret_digest=row.secret_digest,
        credential=row.credential,
    )


async def voter_by_credential(
    session: AsyncSession, election_id: str, credential: str
) -> VoterView | None:
    query = select(VOTERS).where(
        VOTERS.c.election_id == election_id, VOTERS.c.credential == credential
    )
    row = (await session.execute(query)).first()
    return _voter(row) if row is not None else None


async def voters_by_credential(
    session: AsyncSession, election_id: str, credentials: list[str]
) -> dict[str, VoterView]:
    query = select(VOTERS).where(
        VOTERS.c.election_id == election_id, VOTERS.c.credential.in_(credentials)
    )
    return {row.credential: _voter(row) for row in (await session.execute(query)).all()}


async def voter_by_id(session: AsyncSession, election_id: str, voter_id: int) -> VoterView | None:
    query = select(VOTERS).where(VOTERS.c.election_id == election_id, VOTERS.c.id == voter_id)
    row = (await session.execute(query)).first()
    return _voter(row) if row is not None else None


def has_voted(election_id: ColumnElement[Any] | str, credential: ColumnElement[Any] | str) -> Any:
    """An EXISTS clause: the voting service has stored a ballot for this voter."""
    return exists().where(BALLOTS.c.election_id == election_id, BALLOTS.c.credential == credential)


async def ballot_stored(session: AsyncSession, election_id: str, credential: str) -> bool:
    return bool(await session.scalar(select(has_voted(election_id, credential))))
