"""``securevote demo`` runs a whole election in-process and ends with a verified record and a
result equal to the plain count of the choices its voters made."""

from __future__ import annotations

from pathlib import Path

import pytest

from securevote.cli import main


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
