"""SECUREVOTE_READ_DATABASE_URL: public reads go to the replica, everything else to the primary."""

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from securevote.config import Settings
from securevote.db import Database


async def _mark(url: str, value: str) -> None:
    database = Database(Settings(mode="test", database_url=url))
    try:
        async with database.session() as session:
            await session.execute(text("CREATE TABLE marker (value TEXT)"))
            await session.execute(text("INSERT INTO marker VALUES (:value)"), {"value": value})
    finally:
        await database.dispose()


async def test_read_sessions_use_the_replica_and_sessions_the_primary(tmp_path: Path) -> None:
    primary = f"sqlite+aiosqlite:///{tmp_path / 'primary.db'}"
    replica = f"sqlite+aiosqlite:///{tmp_path / 'replica.db'}"
    await _mark(primary, "primary")
    await _mark(replica, "replica")
    database = Database(Settings(mode="test", database_url=primary, read_database_url=replica))
    try:
        async with database.session() as session:
            assert await session.scalar(text("SELECT value FROM marker")) == "primary"
        async with database.read_session() as session:
            assert await session.scalar(text("SELECT value FROM marker")) == "replica"
        await database.ping()
    finally:
        await database.dispose()


async def test_without_a_replica_read_sessions_read_the_primary(database: Database) -> None:
    assert database.read_engine is database.engine
    async with database.read_session() as session:
        assert await session.scalar(text("SELECT 1")) == 1


async def test_ready_fails_when_the_replica_is_unreachable(tmp_path: Path) -> None:
    database = Database(
        Settings(
            mode="test",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'primary.db'}",
            read_database_url="postgresql+asyncpg://nobody@127.0.0.1:9/none",
        )
    )
    try:
        with pytest.raises(OSError):
            await database.ping()
    finally:
        await database.dispose()


async def test_read_sessions_cannot_write_on_postgresql(postgres_database: Database) -> None:
    async with postgres_database.session() as session:
        await session.execute(text("CREATE TABLE marker (value TEXT)"))
    with pytest.raises(DBAPIError, match="read-only transaction"):
        async with postgres_database.read_session() as session:
            await session.execute(text("INSERT INTO marker VALUES ('x')"))
