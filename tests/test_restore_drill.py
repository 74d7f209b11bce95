"""`make restore-drill` (scripts/restore-drill.sh) on a PostgreSQL database holding a real
finished election: `securevote up` on a schema of the test database, and `securevote demo
--url` running a whole election through it (owner, key ceremony, voters, tally, decryption,
publication, its own verified download of the record).

The drill must pass on that data (from the database and from a dump file), and fail, naming
what broke, once the data it restores is damaged: a decrypted count changed (the rebuilt
record no longer verifies) and an audit row rewritten (the hash chain breaks). The damage is
done to the source, with triggers bypassed as only a superuser can, so that the restored copy
carries it. Every run must drop its scratch database."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from securevote.config import Settings

ROOT = Path(__file__).resolve().parents[1]
DRILL = ROOT / "scripts" / "restore-drill.sh"
OWNER = "owner@example.org"
PASSED = "PASSED (audit log intact; 2 record(s) of 1 election(s) verify)"
PASSWORD = "a long demo owner passphrase"


def _dsn(settings: Settings) -> str:
    url = make_url(settings.database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def _sql(settings: Settings, *statements: str) -> Any:
    """Run ``statements`` on the test's schema as the superuser, triggers off; return the
    last one's first value."""
    connection = await asyncpg.connect(_dsn(settings))
    try:
        await connection.execute(f"SET search_path TO {settings.database_schema}")
        await connection.execute("SET session_replication_role = replica")
        for statement in statements[:-1]:
            await connection.execute(statement)
        return await connection.fetchval(statements[-1])
    finally:
        await connection.close()


def _scratch_databases(settings: Settings) -> list[str]:
    rows = asyncio.run(
        _sql(
            settings,
            "SELECT coalesce(string_agg(datname, ','), '') FROM pg_database "
            "WHERE datname LIKE 'securevote_drill_%'",
        )
    )
    return [name for name in str(rows).split(",") if name]


@pytest.fixture
def finished_election(
    postgres_settings: Settings, securevote_cli: Any, tmp_path: Path
) -> tuple[Settings, str]:
    """A published election on ``postgres_settings``' schema; the board's public key."""
    env = securevote_cli.environment(postgres_settings)
    owner = securevote_cli.run(
        ["admin", "create", "--organisation", "Drill Club", "--email", OWNER, "--password-stdin"],
        env,
        tmp_path,
        stdin=PASSWORD + "\n",
    )
    assert owner.returncode == 0, owner.stdout + owner.stderr
    with securevote_cli.server(["up", "--no-migrate"], env, tmp_path) as base:
        demo = securevote_cli.run(
            [
                *("demo", "--url", base, "--owner-email", OWNER),
                *("--seed", "5", "--max-voters", "4", "--workers", "1"),
                *("--workdir", str(tmp_path / "demo")),
            ],
            {**env, "SECUREVOTE_DEMO_PASSWORD": PASSWORD},
            tmp_path,
            timeout=600,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "verifier: PASSED" in demo.stdout
        board_key = httpx.get(f"{base}/api/ballots/board/key", timeout=10).json()["public_key"]
    return postgres_settings, board_key


def _drill(
    settings: Settings, board_key: str, *, dump: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The drill on the test's schema, or on ``dump`` (then only the server is named)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREVOTE_")}
    env.pop("DATABASE_URL", None)
    env["BOARD_PUBLIC_KEY"] = board_key
    if dump is None:
        env["SECUREVOTE_DATABASE_URL"] = settings.database_url
        env["SECUREVOTE_DATABASE_SCHEMA"] = str(settings.database_schema)
    else:
        env["RESTORE_DRILL_SERVER"] = _dsn(settings)
    return subprocess.run(
        ["bash", str(DRILL), *(["--dump", str(dump)] if dump else [])],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_drill_passes_on_a_finished_election_and_fails_on_damaged_data(
    finished_election: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, board_key = finished_election
    before = _scratch_databases(settings)

    drill = _drill(settings, board_key)
    out = drill.stdout + drill.stderr
    assert drill.returncode == 0, out
    assert re.search(r"ok +audit log: audit log intact: \d+ entries", out), out
    assert "1 published election(s) in the copy; 2 record(s), rebuilt and stored" in out
    # Rebuilt from the restored rows, and the stored copy voters download: both verify.
    assert re.search(r"ok +record election-record-[\w-]+: RECORD VERIFIED", out), out
    assert re.search(r"ok +record stored-record-[\w-]+: RECORD VERIFIED", out), out
    assert f"restore drill: {PASSED}" in out
    scratch = re.search(r"scratch database (securevote_drill_\w+) dropped", out)
    assert scratch, out
    assert _scratch_databases(settings) == before

    # The monthly drill: a dump made as the nightly CronJob makes it, restored from the file.
    nightly = tmp_path / "nightly.dump"
    subprocess.run(
        [
            *("pg_dump", "--format=custom", "--compress=6", "--no-owner"),
            *(f"--schema={settings.database_schema}", f"--file={nightly}", _dsn(settings)),
        ],
        check=True,
        timeout=120,
    )
    from_file = _drill(settings, board_key, dump=nightly)
    assert from_file.returncode == 0, from_file.stdout + from_file.stderr
    assert f"restore drill: {PASSED}" in from_file.stdout

    # Damaged data: a decrypted count changed (the rebuilt record no longer verifies), a byte
    # of the stored record changed (it no longer matches its header) and an audit row
    # rewritten (the chain breaks at that entry). The drill names all three.
    broken_id = asyncio.run(
        _sql(
            settings,
            "UPDATE election_record_chunks SET data = overlay(data placing '\\x00'::bytea "
            "from 40 for 1) WHERE seq = 0",
            "UPDATE results SET counts = jsonb_set(counts::jsonb, "
            "'{questions,0,options,0,count}', "
            "to_jsonb((counts::jsonb #>> '{questions,0,options,0,count}')::int + 1))::json",
            "UPDATE audit_log SET actor = 'someone else' "
            "WHERE id = (SELECT id FROM audit_log ORDER BY id OFFSET 2 LIMIT 1)",
            "SELECT id FROM audit_log ORDER BY id OFFSET 2 LIMIT 1",
        )
    )
    damaged = _drill(settings, board_key)
    assert damaged.returncode == 1, damaged.stdout + damaged.stderr
    assert f"FAILED  audit log: audit log BROKEN at entry id {broken_id}" in damaged.stdout
    assert re.search(r"FAIL +results: .*is not the decrypted tally", damaged.stdout)
    assert re.search(r"FAILED +record election-record-", damaged.stdout)
    assert "the stored record of" in damaged.stderr
    assert "does not match its header" in damaged.stderr
    assert re.search(r"FAILED +record stored-record-", damaged.stdout)
    assert "restore drill: FAILED: audit log, record export, record election-record-" in (
        damaged.stdout
    )
    assert "PASSED" not in damaged.stdout
    assert _scratch_databases(settings) == before


def test_the_drill_refuses_to_run_without_a_source(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREVOTE_")}
    env.pop("DATABASE_URL", None)
    drill = subprocess.run(
        ["bash", str(DRILL)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert drill.returncode == 2
    assert "set SECUREVOTE_DATABASE_URL" in drill.stderr
    sqlite = subprocess.run(
        ["bash", str(DRILL)],
        env={**env, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert sqlite.returncode == 2
    assert "must be PostgreSQL" in sqlite.stderr
