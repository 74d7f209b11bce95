"""The hash-chained audit log: appends, verification, tampering found, the database's guards."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from securevote import audit
from securevote.cli import main as securevote_main
from securevote.config import Settings
from securevote.db import Database


async def _append(database: Database, count: int) -> list[int]:
    ids = []
    for number in range(count):
        async with database.session() as session:
            entry = await audit.record(
                session,
                service="election",
                actor=f"admin:{number % 3}",
                action="election.create",
                target=f"election:{number}",
                details={"number": number, "title": "Board élection"},
            )
            ids.append(entry.id)
    return ids


async def _verify(database: Database) -> audit.ChainReport:
    async with database.session() as session:
        return await audit.verify_chain(session)


async def _tamper(database: Database, *statements: str) -> None:
    """Change rows as a database administrator could: bypassing the append-only guard."""
    async with database.session() as session:
        if database.dialect == "postgresql":
            await session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        for statement in statements:
            await session.execute(text(statement))
        if database.dialect == "postgresql":
            await session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))


async def test_an_untouched_chain_verifies(database: Database) -> None:
    assert (await _verify(database)).ok
    await _append(database, 5)
    report = await _verify(database)
    assert report.ok
    assert report.entries == 5
    assert report.head != audit.GENESIS_HASH


async def test_an_edited_entry_is_named(database: Database) -> None:
    ids = await _append(database, 5)
    await _tamper(database, f"UPDATE audit_log SET actor = 'someone-else' WHERE id = {ids[2]}")
    report = await _verify(database)
    assert not report.ok
    assert report.first_broken_id == ids[2]
    assert report.entries == 2


async def test_a_deleted_entry_is_found_at_its_successor(database: Database) -> None:
    ids = await _append(database, 5)
    await _tamper(database, f"DELETE FROM audit_log WHERE id = {ids[1]}")
    report = await _verify(database)
    assert report.first_broken_id == ids[2]


async def test_reordered_entries_are_found(database: Database) -> None:
    ids = await _append(database, 5)
    # Swap the ids of entries 1 and 3: the rows are intact but out of order.
    await _tamper(
        database,
        f"UPDATE audit_log SET id = -1 WHERE id = {ids[1]}",
        f"UPDATE audit_log SET id = {ids[1]} WHERE id = {ids[3]}",
        f"UPDATE audit_log SET id = {ids[3]} WHERE id = -1",
    )
    report = await _verify(database)
    assert report.first_broken_id == ids[1]


async def test_an_inserted_entry_is_found(database: Database) -> None:
    ids = await _append(database, 4)
    # Make room after entry 1, then slip in a forged entry that is itself well formed.
    await _tamper(
        database,
        *[f"UPDATE audit_log SET id = id + 1000 WHERE id = {row}" for row in reversed(ids[2:])],
    )
    async with database.session() as session:
        prev = await session.scalar(text(f"SELECT entry_hash FROM audit_log WHERE id = {ids[1]}"))
    fields = {
        "occurred_at": datetime(2026, 1, 1, tzinfo=UTC),
        "service": "auth",
        "actor": "intruder",
        "action": "admin.create",
        "target": "admin:x",
        "outcome": "success",
        "details": {},
    }
    forged = audit.entry_hash(prev_hash=prev, **fields)
    async with database.session() as session:
        if database.dialect == "postgresql":
            await session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        # The successor must stop pointing at entry 1 (the unique constraint on prev_hash
        # refuses two entries with one predecessor), so the forger points it at the forgery.
        await session.execute(
            text(f"UPDATE audit_log SET prev_hash = :forged WHERE id = {ids[2] + 1000}"),
            {"forged": forged},
        )
        session.add(audit.AuditEntry(id=ids[1] + 1, prev_hash=prev, entry_hash=forged, **fields))
        await session.flush()
        if database.dialect == "postgresql":
            await session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
    report = await _verify(database)
    assert report.first_broken_id == ids[2] + 1000
    assert report.reason == "entry hash does not match its content"


async def test_two_entries_cannot_share_a_predecessor(database: Database) -> None:
    await _append(database, 1)
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            entry = await session.scalar(select(audit.AuditEntry))
            assert entry is not None
            session.add(
                audit.AuditEntry(
                    occurred_at=entry.occurred_at,
                    service="x",
                    actor="x",
                    action="x",
                    target="x",
                    outcome="success",
                    details={},
                    prev_hash=entry.prev_hash,
                    entry_hash="f" * 64,
                )
            )


async def test_concurrent_appends_keep_one_chain(database: Database) -> None:
    async def one(number: int) -> None:
        async with database.session() as session:
            await audit.record(
                session, service="voting", actor="system", action="tick", target=str(number)
            )

    await asyncio.gather(*(one(number) for number in range(20)))
    report = await _verify(database)
    assert report.ok
    assert report.entries == 20


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ],
)
async def test_postgresql_refuses_changes_to_the_log(
    postgres_database: Database, statement: str
) -> None:
    database = postgres_database
    await _append(database, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.session() as session:
            await session.execute(text(statement))
    assert (await _verify(database)).entries == 2


async def test_audit_verify_command_reports_and_exits_non_zero_when_broken(
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = await _append(database, 3)
    monkeypatch.setenv("SECUREVOTE_DATABASE_URL", settings.database_url)
    if settings.database_schema:
        monkeypatch.setenv("SECUREVOTE_DATABASE_SCHEMA", settings.database_schema)

    assert await asyncio.to_thread(securevote_main, ["audit", "verify"]) == 0
    assert "intact: 3 entries" in capsys.readouterr().out

    await _tamper(database, f"UPDATE audit_log SET target = 'forged' WHERE id = {ids[1]}")
    assert await asyncio.to_thread(securevote_main, ["audit", "verify"]) == 1
    assert f"BROKEN at entry id {ids[1]}" in capsys.readouterr().out


async def test_audit_export_verifies_offline_and_shows_a_cut_log(
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """`securevote audit export` writes the verified chain as JSON lines; `audit verify
    --export` re-checks a file without the database, and a later export must contain the head
    of an earlier one, so a log cut back (or rewritten) since is evident."""
    ids = await _append(database, 4)
    monkeypatch.setenv("SECUREVOTE_DATABASE_URL", settings.database_url)
    if settings.database_schema:
        monkeypatch.setenv("SECUREVOTE_DATABASE_SCHEMA", settings.database_schema)
    first = tmp_path / "first.jsonl"
    assert await asyncio.to_thread(securevote_main, ["audit", "export", str(first)]) == 0
    head = (await _verify(database)).head
    assert f"intact: 4 entries, head {head}" in capsys.readouterr().out
    lines = first.read_text(encoding="utf-8").splitlines(keepends=True)
    assert [json.loads(line)["id"] for line in lines] == ids
    assert "Board élection" in lines[0]  # the details, as recorded

    await _append(database, 2)
    second = tmp_path / "second.jsonl"
    assert await asyncio.to_thread(securevote_main, ["audit", "export", str(second)]) == 0
    capsys.readouterr()
    check = ["audit", "verify", "--export", str(second), "--previous-head", head]
    assert await asyncio.to_thread(securevote_main, check) == 0
    assert "intact: 6 entries" in capsys.readouterr().out

    # Offline, with no database at all: an edited line, and an export cut before the old head.
    assert audit.verify_export(lines).ok
    edited = [*lines[:2], lines[2].replace("admin:2", "admin:0"), *lines[3:]]
    report = audit.verify_export(edited)
    assert not report.ok and report.first_broken_id == ids[2]
    cut = audit.verify_export(lines[:3], previous_head=head)
    assert not cut.ok and "earlier export" in cut.reason
    assert not audit.verify_export(["not json\n"]).ok

    # A broken chain is not exported: no file, exit 1.
    await _tamper(database, f"UPDATE audit_log SET target = 'forged' WHERE id = {ids[1]}")
    third = tmp_path / "third.jsonl"
    assert await asyncio.to_thread(securevote_main, ["audit", "export", str(third)]) == 1
    assert f"BROKEN at entry id {ids[1]}" in capsys.readouterr().out
    assert not third.exists() and not (tmp_path / "third.jsonl.partial").exists()
