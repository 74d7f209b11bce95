"""The database itself refuses what the service never does: changing a frozen election's
definition, its questions, options or roll, and moving its state out of order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, insert, update
from sqlalchemy.exc import DBAPIError

from election_service.models import Election, Option, Question, Voter
from securevote.db import Database

from .conftest import Builder


async def _refused(database: Database, statement: object) -> None:
    with pytest.raises(DBAPIError):
        async with database.session() as session:
            await session.execute(statement)  # type: ignore[call-overload]


async def test_a_frozen_election_cannot_be_changed_even_in_sql(
    app: FastAPI, build: Builder
) -> None:
    database: Database = app.state.database
    election_id = await build.frozen()
    detail = (await build.client.get(f"/api/elections/{election_id}", headers=build.headers)).json()
    question_id = detail["questions"][0]["id"]
    option_id = detail["questions"][0]["options"][0]["id"]
    is_it = Election.id == election_id

    await _refused(database, update(Election).where(is_it).values(title="Changed"))
    await _refused(database, update(Election).where(is_it).values(joint_public_key=bytes(32)))
    await _refused(database, update(Election).where(is_it).values(state="draft"))
    await _refused(database, update(Election).where(is_it).values(state="closed"))
    await _refused(database, update(Question).where(Question.id == question_id).values(title="x"))
    await _refused(database, delete(Question).where(Question.id == question_id))
    await _refused(database, update(Option).where(Option.id == option_id).values(title="x"))
    await _refused(
        database,
        insert(Option).values(
            id="extra", question_id=question_id, position=9, title="Extra", description=""
        ),
    )
    await _refused(database, delete(Voter).where(Voter.election_id == election_id))
    await _refused(
        database,
        insert(Voter).values(
            election_id=election_id,
            email="late@example.org",
            email_key="late@example.org",
            credential="late-credential",
        ),
    )

    if database.dialect == "postgresql":  # the bulk path of a roll import
        with pytest.raises(Exception, match="not a draft"):
            async with database.session() as session:
                connection = await session.connection()
                raw = await connection.get_raw_connection()
                await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                    "voters",
                    records=[(election_id, "c@example.org", "c@example.org", "cred-copy")],
                    columns=("election_id", "email", "email_key", "credential"),
                )

    # What the lifecycle does is still allowed.
    async with database.session() as session:
        now = datetime.now(UTC)
        await session.execute(
            update(Election).where(is_it).values(state="open", opened_at=now, updated_at=now)
        )
    after = (await build.client.get(f"/api/elections/{election_id}", headers=build.headers)).json()
    assert after["state"] == "open"
    assert after["title"] == detail["title"] and after["questions"] == detail["questions"]


async def test_drafts_change_freely_and_skip_no_state(app: FastAPI, build: Builder) -> None:
    database: Database = app.state.database
    election_id = await build.ready()
    await _refused(
        database, update(Election).where(Election.id == election_id).values(state="open")
    )
    async with database.session() as session:
        await session.execute(
            update(Election).where(Election.id == election_id).values(title="Still a draft")
        )
        await session.execute(delete(Voter).where(Voter.election_id == election_id))
