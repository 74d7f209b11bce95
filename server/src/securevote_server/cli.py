"""Server subcommands of ``securevote``: ``up``, ``serve`` and ``migrate``.

They need every service, so they live in this composition-root package and plug into the
shared library's command through the ``securevote.commands`` entry point.
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from securevote import migrations
from securevote.config import Mode, load_settings
from securevote.db import Database
from securevote.logging import configure_logging, get_logger
from securevote_server.allinone import SERVICE_FACTORIES, create_all_in_one

log = get_logger("securevote.server")


def _up(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    _warn_if_dev(settings.mode)
    if not args.no_migrate:
        migrations.upgrade(settings)
    url = f"http://{args.host}:{args.port}/"
    print(f"secure-vote is starting (all-in-one) at {url}", flush=True)
    log.info("all_in_one_starting", url=url, database=settings.database_url.split(":", 1)[0])
    uvicorn.run(create_all_in_one(settings), host=args.host, port=args.port, log_config=None)
    return 0


def _serve(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    _warn_if_dev(settings.mode)
    app = SERVICE_FACTORIES[args.service](settings)
    log.info("service_starting", service=args.service, host=args.host, port=args.port)
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, proxy_headers=True)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    if args.down:
        migrations.downgrade(settings, args.down)
    else:
        migrations.upgrade(settings, args.revision)
    database = Database(settings)
    revision = asyncio.run(_current_and_close(database))
    print(f"database at revision {revision or 'base (empty)'}")
    return 0


async def _current_and_close(database: Database) -> str | None:
    try:
        return await migrations.current_revision(database)
    finally:
        await database.dispose()


def _warn_if_dev(mode: Mode) -> None:
    if mode is Mode.DEV:
        log.warning(
            "dev_mode", note="development mode: built-in secrets; never for a real election"
        )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = subparsers.add_parser("up", help="run all five services in one process (a laptop, a demo)")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
    up.set_defaults(func=_up)

    serve = subparsers.add_parser("serve", help="run one service, as a container does")
    serve.add_argument("service", choices=sorted(SERVICE_FACTORIES))
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a container listens on all
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=_serve)

    migrate = subparsers.add_parser("migrate", help="bring the database schema up to date")
    migrate.add_argument("--revision", default="head", help="upgrade to this revision")
    migrate.add_argument("--down", metavar="REVISION", help="downgrade to this revision instead")
    migrate.set_defaults(func=_migrate)
