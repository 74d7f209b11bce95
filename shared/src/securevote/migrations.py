"""Run and inspect the one Alembic history under ``database/migrations``.

The history may have several heads while branches developed in parallel have not been merged
yet; "the revision" of a database is then its heads, sorted and joined with "+".

Alembic's command API is synchronous and starts its own event loop in ``env.py``; call these
functions from synchronous code, or through ``asyncio.to_thread`` from a running loop.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from securevote.config import Settings
from securevote.db import Database


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(settings.migrations_path))
    config.attributes["settings"] = settings
    return config


def upgrade(settings: Settings, revision: str = "heads") -> None:
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)


def head_revision(settings: Settings) -> str | None:
    heads = ScriptDirectory.from_config(alembic_config(settings)).get_heads()
    return "+".join(sorted(heads)) or None


async def current_revision(database: Database) -> str | None:
    """The revision the database is at; None for an empty database."""
    async with database.engine.connect() as connection:
        try:
            result = await connection.execute(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:
            return None
        return "+".join(sorted(result.scalars())) or None
