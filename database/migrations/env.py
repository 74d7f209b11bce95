"""Alembic environment: one history for SQLite and PostgreSQL, run on the async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from securevote.config import Settings, load_settings
from securevote.db import Base, Database

try:  # the models are only needed for `alembic revision --autogenerate`
    from securevote_server.models import all_models

    target_metadata = all_models()
except ModuleNotFoundError:  # running migrations needs nothing but the revision files
    target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(settings: Settings) -> None:
    database = Database(settings)
    try:
        async with database.engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await database.dispose()


settings = context.config.attributes.get("settings") or load_settings()
asyncio.run(_run_async(settings))
