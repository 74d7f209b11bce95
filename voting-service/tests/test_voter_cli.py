"""The voter CLI end to end: `securevote vote` and `securevote check-receipt` as processes,
against `securevote serve voting` on a loopback port."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from securevote.config import Settings
from securevote.voter import parse_choices


def _run(args: list[str], cli: Any, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A voter's command: the voter's machine has no secure-vote settings at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREVOTE_")}
    return subprocess.run(
        [*cli.command, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_vote_and_check_receipt_end_to_end(
    settings: Settings,
    kit: Any,
    voter: Callable[..., Any],
    tmp_path: Path,
    securevote_cli: Any,
) -> None:
    await kit.election()
    alice, bob = voter(), voter()
    receipt_path = tmp_path / "receipt.json"
    with securevote_cli.server(
        ["serve", "voting"], securevote_cli.environment(settings), tmp_path
    ) as base:
        cast = _run(
            [
                "vote",
                "--url",
                base,
                "--session-token",
                alice.token,
                "--choice",
                "chair=ADA LOVELACE",  # labels match in any case
                "--choice",
                "Motions=m2",  # ids match too
                "--receipt",
                str(receipt_path),
            ],
            securevote_cli,
            tmp_path,
        )
        assert cast.returncode == 0, cast.stdout + cast.stderr
        assert "inclusion proof verified" in cast.stdout
        saved = json.loads(receipt_path.read_text())
        assert saved["receipt"]["board_index"] == 0

        # Others vote after: the receipt still checks against the grown board.
        other = _run(
            ["vote", "--url", base, "--session-token", bob.token, "--choice", "Chair=grace"],
            securevote_cli,
            tmp_path,
        )
        assert other.returncode == 0, other.stdout + other.stderr
        check = _run(["check-receipt", str(receipt_path), "--url", base], securevote_cli, tmp_path)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "receipt OK" in check.stdout and "size 2" in check.stdout

        # The encrypted ballot on the board is what alice chose: her credential's ballot is
        # there, and voting again is refused (not a re-voting election).
        again = _run(
            ["vote", "--url", base, "--session-token", alice.token, "--choice", "Chair=alan"],
            securevote_cli,
            tmp_path,
        )
        assert again.returncode == 1 and "409" in again.stderr

        # Without the auth service in this process, a token cannot be redeemed: a clear error.
        token = _run(
            ["vote", "--url", base, "--token", "abc", "--choice", "Chair=ada"],
            securevote_cli,
            tmp_path,
        )
        assert token.returncode == 1 and "redeeming the token failed: HTTP 404" in token.stderr

        # A forged receipt (another index) is caught.
        forged = dict(saved, receipt=dict(saved["receipt"], board_index=1, tree_size=2))
        forged_path = tmp_path / "forged.json"
        forged_path.write_text(json.dumps(forged))
        bad = _run(["check-receipt", str(forged_path), "--url", base], securevote_cli, tmp_path)
        assert bad.returncode == 1 and "FAILED" in bad.stderr


async def test_choices_that_match_nothing_are_refused_before_anything_is_sent(
    kit: Any,
) -> None:
    from securevote.voter import VoterError

    manifest = kit.context(kit.ELECTION_ID).manifest
    assert parse_choices(manifest, ["Chair=grace hopper", "motions=Motion 1"]) == {
        "chair": ["grace"],
        "motions": ["m1"],
    }
    for specs in (["Chair=Nobody"], ["Nothing=ada"], ["Chair"], ["Motions=m1"]):
        with pytest.raises(VoterError):
            parse_choices(manifest, specs)
