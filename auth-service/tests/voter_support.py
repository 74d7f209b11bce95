"""Helpers of the voter-access tests: elections and rolls written as the election service
writes them, stored ballots as the voting service writes them, a real SMTP server
(aiosmtpd on a loopback port), and an auth app with a movable clock."""

from __future__ import annotations

import email
import email.policy
import re
import secrets
import socket
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import Boolean, DateTime, Integer, LargeBinary, MetaData, Table, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from auth_service.app import create_app
from auth_service.policy import AuthPolicy
from securevote.auth import signer_from_settings
from securevote.config import Settings
from securevote.db import Database
from securevote.roll_secret import secret_digest

from .conftest import FakeClock, World, make_policy

ORG = "org-voters"
OTHER_ORG = "org-other"
LINK = re.compile(r"https?://[^\s\"<>]+/vote#token=([A-Za-z0-9_-]+)")


@dataclass
class RollEntry:
    id: int
    email: str
    name: str
    credential: str
    date_of_birth: str | None


@dataclass
class ElectionFixture:
    id: str
    voters: list[RollEntry]


async def _reflect(connection: AsyncConnection, name: str) -> Table:
    def load(sync: Any) -> Table:
        return Table(name, MetaData(), autoload_with=sync)

    return await connection.run_sync(load)


def _filler(column: Any, index: int) -> Any:
    kind = column.type
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer):
        return index
    if isinstance(kind, LargeBinary):
        return secrets.token_bytes(32)
    if isinstance(kind, DateTime):
        return datetime.now(UTC)
    return "x"


async def insert_row(
    connection: AsyncConnection, name: str, values: dict[str, Any], index: int = 0
) -> None:
    """Insert into another service's table, filling required columns the test does not
    care about (so a column added there later does not break these tests)."""
    table = await _reflect(connection, name)
    row = dict(values)
    for column in table.columns:
        required = not column.nullable and column.server_default is None
        generated = column.primary_key and isinstance(column.type, Integer) and name != "ballots"
        if required and column.name not in row and not generated:
            row[column.name] = _filler(column, index)
    await connection.execute(insert(table).values(**row))


async def make_election(
    database: Database,
    settings: Settings,
    *,
    voters: int = 3,
    org: str = ORG,
    second_factor: str = "none",
    allow_revoting: bool = True,
    state: str = "open",
    closes_in: timedelta = timedelta(days=2),
    title: str = "Board election <2027> & more",
) -> ElectionFixture:
    """An election with a roll, frozen and opened, as the election service leaves it."""
    election_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with database.engine.begin() as connection:
        await insert_row(
            connection,
            "elections",
            {
                "id": election_id,
                "organisation_id": org,
                "title": title,
                "description": "",
                "time_zone": "Europe/Zurich",
                "opens_at": now - timedelta(hours=1),
                "closes_at": now + closes_in,
                "allow_revoting": allow_revoting,
                "second_factor": second_factor,
                "state": "draft",
                "trustee_count": 1,
                "threshold": 1,
                "created_by": "account:test",
                "created_at": now,
                "updated_at": now,
            },
        )
        entries = []
        for i in range(voters):
            dob = f"19{60 + i % 40}-0{1 + i % 9}-1{i % 10}" if second_factor != "none" else None
            digest = (
                secret_digest(settings.secret_key_bytes, election_id=election_id, normalised=dob)
                if dob
                else None
            )
            credential = secrets.token_hex(16)
            email_address = f"voter{i}.{election_id[:8]}@example.org"
            await insert_row(
                connection,
                "voters",
                {
                    "election_id": election_id,
                    "email": email_address,
                    "email_key": email_address,
                    "name": f"Voter {i}",
                    "external_id": f"M-{i:05d}",
                    "secret_digest": digest,
                    "credential": credential,
                },
            )
            voter_id = (
                await connection.execute(
                    text("SELECT id FROM voters WHERE credential = :c"), {"c": credential}
                )
            ).scalar_one()
            entries.append(RollEntry(int(voter_id), email_address, f"Voter {i}", credential, dob))
        order = ["frozen", "open", "closed"]
        for step in order[: order.index(state) + 1] if state in order else []:
            column = {"frozen": "frozen_at", "open": "opened_at", "closed": "closed_at"}[step]
            await connection.execute(
                text(f"UPDATE elections SET state = :s, {column} = :t WHERE id = :id"),
                {"s": step, "t": now, "id": election_id},
            )
    return ElectionFixture(election_id, entries)


async def store_ballot(database: Database, election_id: str, credential: str) -> None:
    """A stored ballot, as the voting service records it (only the columns auth reads
    matter here)."""
    async with database.engine.begin() as connection:
        index = (
            await connection.execute(
                text("SELECT COUNT(*) FROM ballots WHERE election_id = :e"), {"e": election_id}
            )
        ).scalar_one()
        await insert_row(
            connection,
            "ballots",
            {"election_id": election_id, "credential": credential},
            index=int(index),
        )


# --- SMTP -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Sink:
    """What the SMTP server received, and how it should answer some recipients."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # 550, permanently
    defer: dict[str, int] = field(default_factory=dict)  # 451, this many times
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self.lock:
            if address in self.refuse:
                return "550 5.1.1 No such user here"
            if self.defer.get(address, 0) > 0:
                self.defer[address] -= 1
                return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]


class SmtpServer:
    def __init__(self) -> None:
        self.sink = Sink()
        self.port = free_port()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def mail_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def mail_html(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def token_in(body: str) -> str:
    match = LINK.search(body)
    assert match is not None, "no voting link in the mail"
    return match.group(1)


# --- the auth app -----------------------------------------------------------------------------


@dataclass
class VoterWorld(World):
    """The auth app (movable clock) plus what the voter-access tests need."""

    @property
    def database(self) -> Database:
        database: Database = self.app.state.database
        return database

    async def redeem(self, token: str, roll_secret: str | None = None) -> httpx.Response:
        body: dict[str, Any] = {"token": token}
        if roll_secret is not None:
            body["roll_secret"] = roll_secret
        return await self.client.post("/api/auth/voter/redeem", json=body)

    async def send_mail(self) -> dict[str, int]:
        from auth_service import outbox

        await outbox.enqueue_invitations(self.ctx)
        return await outbox.run_until_idle(self.ctx)


def voter_headers(
    settings: Settings, election_id: str = "e", credential: str = "c"
) -> dict[str, str]:
    signer = signer_from_settings(settings)
    claims = {"sub": "voter:x", "kind": "voter", "eid": election_id, "cred": credential}
    return {"Authorization": f"Bearer {signer.issue(claims, ttl_seconds=600)}"}


async def voter_world(
    settings: Settings, serve: Any, clock: FakeClock, **policy: Any
) -> AsyncIterator[VoterWorld]:
    values: dict[str, Any] = {
        "mail_backoff_seconds": 60.0,
        "mail_backoff_max_seconds": 600.0,
        "mail_max_attempts": 4,
        "limits_namespace": f"test-{secrets.token_hex(6)}",
        # What TEST_MODE sets: short-lived voter tokens.
        "voter_token_seconds": AuthPolicy.for_settings(settings).voter_token_seconds,
    }
    values.update(policy)
    app = create_app(settings, policy=make_policy(clock, **values))
    async with serve(app) as client:
        yield VoterWorld(app, client, clock, settings)
