"""``securevote demo`` runs a whole election and ends with a verified record and a result
equal to the plain count of the choices its voters made: in-process, and with ``--url``
against a running system (``securevote up`` in its own process, real HTTP on a loopback port,
its jobs delivering the invitations, an owner made with ``securevote admin create``)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from securevote.cli import main
from securevote.config import Settings
from securevote_server.demo import PASSWORD_ENV, SAMPLE_VOTERS

VOTERS = 4  # the first rows of the sample roll
VOTING = 3  # of whom vote


def test_the_demo_runs_a_complete_election_and_the_record_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workdir = tmp_path / "demo"
    code = main(
        ["demo", "--workdir", str(workdir), "--seed", "3", "--max-voters", "12", "--workers", "1"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    for step in ("Key ceremony", "trustee 2 stays away", "Publish", "verify the election record"):
        assert step in out
    assert "the tally is decrypted" in out
    assert "verifier: PASSED; result equals the plain count of the choices made: yes" in out
    assert "12 ballots of 50 eligible voters (24.00%)" in out
    records = list(workdir.glob("election-record-*.zip"))
    assert len(records) == 1
    # The trustees' key files stay private to them.
    for key_file in workdir.glob("t*.key"):
        assert key_file.stat().st_mode & 0o077 == 0


def test_the_demo_runs_against_a_running_system(
    settings: Settings, tmp_path: Path, securevote_cli: Any
) -> None:
    env = securevote_cli.environment(settings)
    email, password = "owner@example.org", secrets.token_urlsafe(18)
    created = securevote_cli.run(
        [
            *("admin", "create", "--organisation", "Demo Association"),
            *("--email", email, "--password-stdin"),
        ],
        env,
        tmp_path,
        stdin=password + "\n",
    )
    assert created.returncode == 0, created.stdout + created.stderr
    roll = tmp_path / "voters.csv"
    roll.write_text("".join(SAMPLE_VOTERS.read_text().splitlines(keepends=True)[: VOTERS + 1]))
    workdir = tmp_path / "demo"
    with securevote_cli.server(["up"], env, tmp_path) as base:
        demo = securevote_cli.run(
            [
                *("demo", "--url", base, "--owner-email", email, "--voters", str(roll)),
                *("--max-voters", str(VOTING), "--seed", "7", "--workdir", str(workdir)),
                *("--workers", "1"),
            ],
            {**env, PASSWORD_ENV: password},
            tmp_path,
            timeout=600,
        )
    out = demo.stdout
    assert demo.returncode == 0, out + demo.stderr
    assert f"roll imported from voters.csv: {VOTERS} voters, 0 rejected" in out
    assert f"{VOTERS} invitation mails delivered to the dev mailbox" in out
    assert "the tally is decrypted" in out
    assert f"{VOTING} ballots of {VOTERS} eligible voters (75.00%)" in out
    assert "verifier: PASSED; result equals the plain count of the choices made: yes" in out
    assert password not in out + demo.stderr
    assert len(list(workdir.glob("election-record-*.zip"))) == 1
