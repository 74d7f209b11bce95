"""Async database access for SQLite (aiosqlite) and PostgreSQL (asyncpg), with the same code.

SQLite is the embedded default for a laptop. It runs in WAL mode with a busy timeout, and
every transaction starts with ``BEGIN IMMEDIATE``: a transaction that reads and then writes
(append to a hash chain, cast a ballot) then holds the write lock from its first statement,
so two of them cannot interleave and fail half way (see docs/adr/0002-sqlite-immediate.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from securevote.config import Settings

# Stable constraint names, so that migrations can refer to them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The declarative base of every table; each service declares only the tables it owns."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _prepare_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(settings: Settings, url_text: str | None = None) -> AsyncEngine:
    """An engine for ``url_text`` (default ``settings.database_url``); creates the SQLite
    file's folder if needed."""
    url = make_url(url_text or settings.database_url)
    # hide_parameters: SQL errors must never carry bound values (tokens, ballots) into logs.
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        _prepare_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    if url.get_backend_name() != "postgresql":
        raise ValueError("DATABASE_URL must be sqlite+aiosqlite:// or postgresql+asyncpg://")
    kwargs.update(pool_size=settings.database_pool_size, max_overflow=settings.database_pool_size)
    if settings.database_schema:
        kwargs["connect_args"] = {"server_settings": {"search_path": settings.database_schema}}
    return create_async_engine(url, **kwargs)


class Database:
    """An engine plus a session factory. One per process is enough; services may share it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        replica = settings.read_database_url
        self.read_engine = create_engine(settings, replica) if replica else self.engine
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on any error."""
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction on the read replica (``SECUREVOTE_READ_DATABASE_URL``), or
        on the primary when there is none; for public endpoints that may lag a little. On
        PostgreSQL the transaction is declared READ ONLY, so a write through it fails."""
        async with self._read_sessions() as session, session.begin():
            if self.read_engine.dialect.name == "postgresql":
                await session.execute(text("SET TRANSACTION READ ONLY"))
            yield session

    @asynccontextmanager
    async def one_statement(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one statement that is its own transaction: on PostgreSQL in
        autocommit mode (no BEGIN and COMMIT round trips, and a lock the statement takes ends
        with it); on SQLite, where there are no round trips, in the usual ``BEGIN IMMEDIATE``
        transaction."""
        async with self.engine.connect() as connection:
            if self.dialect == "postgresql":
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    async def ping(self) -> None:
        """Raise if the database (or the read replica) cannot be reached."""
        for engine in {self.engine, self.read_engine}:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
