"""Server subcommands of ``securevote`` that need every service: ``up`` and ``demo``.

They live in this composition-root package and plug into the shared library's command
through the ``securevote.commands`` entry point.
"""

from __future__ import annotations

import argparse

import uvicorn

from securevote import migrations
from securevote.cli import warn_if_dev_mode
from securevote.config import load_settings
from securevote.logging import configure_logging, get_logger
from securevote_server import demo
from securevote_server.allinone import create_all_in_one

log = get_logger("securevote.server")


def _up(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    warn_if_dev_mode(settings)
    if not args.no_migrate:
        migrations.upgrade(settings)
    url = f"http://{args.host}:{args.port}/"
    print(f"secure-vote is starting (all-in-one) at {url}", flush=True)
    # X-Forwarded-For is read by securevote.client_address, from trusted proxies only.
    app = create_all_in_one(settings)
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, proxy_headers=False)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = subparsers.add_parser("up", help="run all five services in one process (a laptop, a demo)")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
    up.set_defaults(func=_up)
    demo.register(subparsers)
