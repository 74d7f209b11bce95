"""The ``securevote`` command.

The shared library brings the commands that need nothing but itself: ``migrate``,
``audit verify``, ``serve`` (any installed service, found through the ``securevote.services``
entry points, so a container holds one service and this library) and the voter, trustee and
verifier commands. Packages that need more plug their subcommands in through the
``securevote.commands`` entry point group: each entry is a function ``register(subparsers)``.
The server package adds ``up`` (all five services in one process) that way, so a voter or
observer can install this library alone and still verify.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from securevote import __version__, jobs, migrations, trustee, voter
from securevote.audit import ChainReport, export_chain, verify_chain, verify_export
from securevote.config import ConfigurationError, Mode, Settings, load_settings
from securevote.db import Database
from securevote.logging import configure_logging, get_logger

log = get_logger("securevote.cli")


def _chain_verdict(report: ChainReport, what: str) -> int:
    if report.ok:
        print(f"{what} intact: {report.entries} entries, head {report.head}")
        return 0
    print(
        f"{what} BROKEN at entry id {report.first_broken_id}: {report.reason} "
        f"({report.entries} entries before it verify)"
    )
    return 1


def _audit_verify(args: argparse.Namespace) -> int:
    if args.export is not None:
        with args.export.open(encoding="utf-8") as lines:
            report = verify_export(lines, previous_head=args.previous_head)
        return _chain_verdict(report, f"audit export {args.export.name}")
    settings = load_settings()

    async def run() -> ChainReport:
        database = Database(settings)
        try:
            async with database.session() as session:
                return await verify_chain(session)
        finally:
            await database.dispose()

    return _chain_verdict(asyncio.run(run()), "audit log")


def _audit_export(args: argparse.Namespace) -> int:
    """Verify the chain while writing it; the file appears only whole and intact."""
    settings = load_settings()
    target: Path = args.file
    partial = target.with_name(target.name + ".partial")

    async def run() -> ChainReport:
        database = Database(settings)
        try:
            async with database.session() as session:
                with partial.open("w", encoding="utf-8") as out:
                    return await export_chain(session, out)
        finally:
            await database.dispose()

    report = asyncio.run(run())
    if report.ok:
        partial.replace(target)
    else:
        partial.unlink(missing_ok=True)
    return _chain_verdict(report, f"audit log exported to {target.name}:")


def _hash_hex(text: str) -> str:
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise argparse.ArgumentTypeError("a head is 64 lowercase hex digits")
    return text


def _installed_services() -> dict[str, Any]:
    return {entry.name: entry for entry in entry_points(group="securevote.services")}


def _serve(args: argparse.Namespace) -> int:
    import uvicorn  # each service package depends on it; this library alone does not

    settings = load_settings()
    configure_logging(settings.log_level)
    warn_if_dev_mode(settings)
    app = _installed_services()[args.service].load()(settings)
    log.info("service_starting", service=args.service, host=args.host, port=args.port)
    # X-Forwarded-For is read by securevote.client_address, from trusted proxies only.
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, proxy_headers=False)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    if args.down:
        migrations.downgrade(settings, args.down)
    else:
        migrations.upgrade(settings, args.revision)

    async def current() -> str | None:
        database = Database(settings)
        try:
            return await migrations.current_revision(database)
        finally:
            await database.dispose()

    print(f"database at revision {asyncio.run(current()) or 'base (empty)'}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from securevote.verify import run_verify  # the protocol stack loads only when asked

    return run_verify(args.record, workers=args.workers)


def _jobs_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    job = jobs.installed_jobs()[args.job]

    async def run() -> None:
        database = Database(settings)
        try:
            if args.loop:
                await jobs.run_forever(job, database, settings)
            else:
                await jobs.run_once(job, database, settings)
        finally:
            await database.dispose()

    asyncio.run(run())
    return 0


def warn_if_dev_mode(settings: Settings) -> None:
    if settings.mode is Mode.DEV:
        log.warning(
            "dev_mode", note="development mode: built-in secrets; never for a real election"
        )


def _register_builtin(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = subparsers.add_parser(
        "verify", help="verify an election record completely (exit 0 only if every check passes)"
    )
    verify.add_argument("record", type=Path, help="the election record archive (.zip)")
    verify.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    verify.set_defaults(func=_verify)

    services = sorted(_installed_services())
    serve = subparsers.add_parser("serve", help="run one service, as a container does")
    serve.add_argument("service", choices=services, help="one of the installed services")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a container listens on all
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=_serve)

    migrate = subparsers.add_parser("migrate", help="bring the database schema up to date")
    migrate.add_argument("--revision", default="heads", help="upgrade to this revision")
    migrate.add_argument("--down", metavar="REVISION", help="downgrade to this revision instead")
    migrate.set_defaults(func=_migrate)

    jobs_parser = subparsers.add_parser("jobs", help="run background jobs")
    jobs_commands = jobs_parser.add_subparsers(dest="jobs_command", required=True)
    run = jobs_commands.add_parser("run", help="run a job once (a cron job) or in a loop")
    run.add_argument("job", choices=sorted(jobs.installed_jobs()))
    run.add_argument("--loop", action="store_true", help="run again every interval until stopped")
    run.set_defaults(func=_jobs_run)

    audit = subparsers.add_parser("audit", help="inspect the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify", help="recompute the hash chain and name the first broken entry"
    )
    verify.add_argument(
        "--export", type=Path, help="check an export file (securevote audit export) instead"
    )
    verify.add_argument(
        "--previous-head",
        type=_hash_hex,
        help="with --export: the head of an earlier export, which must be in this one",
    )
    verify.set_defaults(func=_audit_verify)
    export = audit_commands.add_parser(
        "export", help="verify the chain and write it as JSON lines (for object storage)"
    )
    export.add_argument("file", type=Path)
    export.set_defaults(func=_audit_export)

    trustee.register(subparsers)  # trustee keygen, ceremony, decrypt
    voter.register(subparsers)  # vote, check-receipt


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
