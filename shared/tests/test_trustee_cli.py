"""The trustee's key file: private, never overwritten, and ready for decryption.
(The ceremony itself, as subprocesses against a real server: election-service/tests/
test_ceremony_cli.py.)"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from securevote.cli import build_parser
from securevote.crypto.group import Scalar
from securevote.crypto.threshold import KeyShare
from securevote.trustee import KEY_FILE_FORMAT, KeyFile, TrusteeError


def test_keygen_writes_a_private_key_file_once(tmp_path: Path) -> None:
    path = tmp_path / "trustee.key"
    keys = KeyFile.create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["format"] == KEY_FILE_FORMAT
    assert bytes.fromhex(document["box_public_key"]) == keys.box_public_key
    with pytest.raises(TrusteeError, match="not overwritten"):
        KeyFile.create(path)
    assert json.loads(path.read_text()) == document


def test_the_key_file_keeps_the_key_share_per_election(tmp_path: Path) -> None:
    path = tmp_path / "trustee.key"
    keys = KeyFile.create(path)
    assert keys.key_share("e-1") is None
    share = KeyShare(2, Scalar.random())
    keys.election("e-1")["key_share"] = share.to_json()
    keys.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyFile.load(path).key_share("e-1") == share
    assert KeyFile.load(path).key_share("e-2") is None


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "trustee.key"
    KeyFile.create(path)
    path.chmod(0o644)
    with pytest.raises(TrusteeError, match="chmod 600"):
        KeyFile.load(path)
    other = tmp_path / "other.json"
    other.write_text("{}")
    other.chmod(0o600)
    with pytest.raises(TrusteeError, match="not a secure-vote trustee key file"):
        KeyFile.load(other)
    with pytest.raises(TrusteeError, match="keygen"):
        KeyFile.load(tmp_path / "missing.key")


def test_the_command_has_the_trustee_subcommands() -> None:
    parser = build_parser()
    args = parser.parse_args(["trustee", "keygen", "--out", "k.key"])
    assert args.out == Path("k.key")
    args = parser.parse_args(
        [
            "trustee",
            "ceremony",
            "--url",
            "http://127.0.0.1:8000",
            "--election",
            "e",
            "--key-file",
            "k.key",
            "--email",
            "a@example.org",
        ]
    )
    assert (args.wait, args.totp_code) == (0.0, None)
