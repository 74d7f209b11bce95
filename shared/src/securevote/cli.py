"""The ``securevote`` command.

The shared library brings the commands that need nothing but itself (``audit verify``; the
voter, trustee and verifier commands). Packages that need more plug their subcommands in
through the ``securevote.commands`` entry point group: each entry is a function
``register(subparsers)``. The server package adds ``up``, ``serve`` and ``migrate`` that way,
so a voter or observer can install this library alone and still verify.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from securevote import __version__
from securevote.audit import verify_chain
from securevote.config import ConfigurationError, load_settings
from securevote.db import Database


def _audit_verify(args: argparse.Namespace) -> int:
    settings = load_settings()

    async def run() -> int:
        database = Database(settings)
        try:
            async with database.session() as session:
                report = await verify_chain(session)
        finally:
            await database.dispose()
        if report.ok:
            print(f"audit log intact: {report.entries} entries, head {report.head}")
            return 0
        print(
            f"audit log BROKEN at entry id {report.first_broken_id}: {report.reason} "
            f"({report.entries} entries before it verify)"
        )
        return 1

    return asyncio.run(run())


def _register_builtin(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = subparsers.add_parser("audit", help="inspect the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify", help="recompute the hash chain and name the first broken entry"
    )
    verify.set_defaults(func=_audit_verify)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="securevote", description="secure-vote: verifiable secret-ballot elections"
    )
    parser.add_argument("--version", action="version", version=f"securevote {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _register_builtin(subparsers)
    for entry in entry_points(group="securevote.commands"):
        entry.load()(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigurationError as exc:
        print(f"securevote: configuration error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
