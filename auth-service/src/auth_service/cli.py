"""``securevote admin create``: the operator creates the first owner of an organisation.

The password is read from a prompt (twice) or, for scripts, from standard input with
``--password-stdin``; never from an argument, where it would show in the process list and
the shell history.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.exc import DBAPIError

from auth_service import accounts
from auth_service.context import AuthContext
from auth_service.errors import Conflict
from auth_service.schemas import DisplayName, Email, NewPassword
from securevote.config import load_settings
from securevote.db import Database
from securevote.logging import configure_logging


class OwnerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation: DisplayName
    email: Email
    display_name: DisplayName
    password: NewPassword


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        print(
            "securevote: no terminal to ask for the password; use --password-stdin", file=sys.stderr
        )
        return None
    first = getpass.getpass("Password for the new owner: ")
    if getpass.getpass("Repeat the password: ") != first:
        print("securevote: the passwords differ", file=sys.stderr)
        return None
    return first


def _create(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    password = _read_password(args.password_stdin)
    if password is None:
        return 2
    try:
        request = OwnerRequest(
            organisation=args.organisation,
            email=args.email,
            display_name=args.display_name or args.email.partition("@")[0],
            password=password,
        )
    except ValidationError as exc:
        # Field names and reasons only: the input (a password) is never echoed.
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            print(f"securevote: {field}: {error['msg']}", file=sys.stderr)
        return 2
    return asyncio.run(_create_owner(database=Database(settings), request=request))


async def _create_owner(*, database: Database, request: OwnerRequest) -> int:
    ctx = AuthContext.build(settings=database.settings, database=database)
    try:
        created = await accounts.create_owner(
            ctx=ctx,
            organisation_name=request.organisation,
            email=request.email,
            display_name=request.display_name,
            password=request.password,
        )
    except Conflict as exc:
        print(f"securevote: {exc}", file=sys.stderr)
        return 1
    except DBAPIError:
        print(
            "securevote: the database is not ready (run `securevote migrate` first)",
            file=sys.stderr,
        )
        return 2
    finally:
        await database.dispose()
    organisation = created.organisation
    what = "new organisation" if created.organisation_created else "existing organisation"
    print(
        f"owner {created.account.email} (account {created.account.id}) created in {what} "
        f"{organisation.name!r} ({organisation.id})"
    )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = subparsers.add_parser("admin", help="administrator accounts")
    commands = admin.add_subparsers(dest="admin_command", required=True)
    create = commands.add_parser(
        "create", help="create an owner account, and its organisation if it is new"
    )
    create.add_argument("--organisation", required=True, help="the organisation's name")
    create.add_argument("--email", required=True, help="the owner's e-mail address")
    create.add_argument("--display-name", help="the owner's name (default: from the address)")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of a prompt",
    )
    create.set_defaults(func=_create)
