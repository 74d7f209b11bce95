"""The one Alembic history, up and down, on SQLite and PostgreSQL; models match it."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from securevote import migrations
from securevote.config import Settings
from securevote.db import Database
from securevote_server.models import all_models


async def _tables(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_upgrade_then_downgrade_then_upgrade_again(empty_settings: Settings) -> None:
    database = Database(empty_settings)
    try:
        assert await migrations.current_revision(database) is None
        head = migrations.head_revision(empty_settings)
        assert head is not None

        await asyncio.to_thread(migrations.upgrade, empty_settings)
        assert await migrations.current_revision(database) == head
        assert "audit_log" in await _tables(database)

        await asyncio.to_thread(migrations.downgrade, empty_settings, "base")
        assert await migrations.current_revision(database) is None
        assert await _tables(database) <= {"alembic_version"}

        await asyncio.to_thread(migrations.upgrade, empty_settings)
        assert await migrations.current_revision(database) == head
    finally:
        await database.dispose()


async def test_the_models_and_the_migrations_agree(database: Database) -> None:
    """A model change without a migration (or the reverse) fails here, on both databases."""

    def diff(sync_connection: object) -> list[object]:
        context = MigrationContext.configure(sync_connection, opts={"compare_type": True})  # type: ignore[arg-type]
        return [
            change
            for change in compare_metadata(context, all_models())
            if not (change[0] == "remove_table" and change[1].name == "alembic_version")
        ]

    async with database.engine.connect() as connection:
        assert await connection.run_sync(diff) == []
