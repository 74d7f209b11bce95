"""``securevote trustee`` as trustees run it: real processes against a real server (the
all-in-one ``securevote up``) on a loopback port, three trustees at once, k = 2."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from auth_service import accounts
from auth_service.context import AuthContext
from securevote.config import Settings
from securevote.crypto.threshold import KeyShare, TrusteeCommitment, public_share
from securevote.db import Database
from securevote.trustee import KeyFile

from .conftest import QUESTION, roll_csv

PASSWORD = "trustee-password-0123"


def _owner(settings: Settings) -> None:
    async def create() -> None:
        database = Database(settings)
        try:
            ctx = AuthContext.build(settings=settings, database=database)
            await accounts.create_owner(
                ctx=ctx,
                organisation_name="Trustee CLI Org",
                email="owner@example.org",
                display_name="Owner",
                password=PASSWORD,
            )
        finally:
            await database.dispose()

    asyncio.run(create())


def _login(http: httpx.Client, email: str) -> dict[str, str]:
    response = http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _prepare(base: str) -> tuple[str, dict[str, str], list[str]]:
    """As the organiser: three trustee accounts, an election with a question and a roll,
    the trustees named with k = 2. The election id, the owner's headers, trustee emails."""
    with httpx.Client(base_url=base, timeout=30) as http:
        owner = _login(http, "owner@example.org")
        emails, account_ids = [], []
        for name in ("alice", "bob", "carol"):
            created = http.post(
                "/api/auth/accounts",
                json={
                    "email": f"{name}@example.org",
                    "display_name": name.title(),
                    "role": "trustee",
                    "password": PASSWORD,
                },
                headers=owner,
            )
            assert created.status_code == 201, created.text
            emails.append(f"{name}@example.org")
            account_ids.append(created.json()["id"])
        opens = datetime.now(UTC) + timedelta(days=1)
        election = http.post(
            "/api/elections",
            json={
                "title": "CLI ceremony",
                "time_zone": "Europe/Zurich",
                "opens_at": opens.isoformat(),
                "closes_at": (opens + timedelta(days=2)).isoformat(),
            },
            headers=owner,
        )
        assert election.status_code == 201, election.text
        election_id = str(election.json()["id"])
        assert http.post(
            f"/api/elections/{election_id}/questions", json=QUESTION, headers=owner
        ).is_success
        assert http.post(
            f"/api/elections/{election_id}/voters/import",
            content=roll_csv(3),
            headers={**owner, "Content-Type": "text/csv"},
        ).is_success
        named = http.put(
            f"/api/elections/{election_id}/trustees",
            json={
                "threshold": 2,
                "trustees": [
                    {"account_id": account, "name": name}
                    for account, name in zip(account_ids, ("Alice", "Bob", "Carol"), strict=True)
                ],
            },
            headers=owner,
        )
        assert named.status_code == 200, named.text
        return election_id, owner, emails


def _ceremony_command(
    cli: Any, base: str, election_id: str, key_file: Path, email: str, *extra: str
) -> list[str]:
    return [
        *cli.command,
        "trustee",
        "ceremony",
        "--url",
        base,
        "--election",
        election_id,
        "--key-file",
        str(key_file),
        "--email",
        email,
        *extra,
    ]


def test_three_trustees_run_the_ceremony_with_the_cli(
    settings: Settings, tmp_path: Path, securevote_cli: Any
) -> None:
    _owner(settings)
    env = securevote_cli.environment(settings, SECUREVOTE_TRUSTEE_PASSWORD=PASSWORD)
    key_files = [tmp_path / f"trustee-{i}.key" for i in (1, 2, 3)]
    keygens = [
        subprocess.Popen(
            [*securevote_cli.command, "trustee", "keygen", "--out", str(key_file)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for key_file in key_files
    ]
    for key_file, keygen in zip(key_files, keygens, strict=True):
        _, err = keygen.communicate(timeout=60)
        assert keygen.returncode == 0, err
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = subprocess.run(
        [*securevote_cli.command, "trustee", "keygen", "--out", str(key_files[0])],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 1 and "not overwritten" in again.stderr

    with securevote_cli.server(["up"], env, tmp_path, ready_path="/api/elections/ready") as base:
        election_id, owner, emails = _prepare(base)

        # One pass before the others have registered: registers, then waits (exit 3).
        first = subprocess.run(
            _ceremony_command(securevote_cli, base, election_id, key_files[0], emails[0]),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert first.returncode == 3, first.stdout + first.stderr
        assert "Registered as trustee 1 (Alice)" in first.stdout

        # Then all three at once, each waiting for the others.
        processes = [
            subprocess.Popen(
                _ceremony_command(
                    securevote_cli,
                    base,
                    election_id,
                    key_file,
                    email,
                    "--wait",
                    "90",
                    "--interval",
                    "0.3",
                ),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for key_file, email in zip(key_files, emails, strict=True)
        ]
        outputs = [process.communicate(timeout=150) for process in processes]
        for process, (out, err) in zip(processes, outputs, strict=True):
            assert process.returncode == 0, out + err
            assert "The ceremony is complete" in out
            assert PASSWORD not in out + err

        with httpx.Client(base_url=base, timeout=30) as http:
            state = http.get(f"/api/elections/{election_id}/ceremony", headers=owner).json()
            assert state["status"] == "complete"
            commitments = [TrusteeCommitment.from_json(t["commitment"]) for t in state["trustees"]]
            for index, key_file in enumerate(key_files, start=1):
                assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
                keys = KeyFile.load(key_file)
                share = keys.key_share(election_id)
                assert isinstance(share, KeyShare) and share.index == index
                assert share.public == public_share(commitments=commitments, index=index)
                record: dict[str, Any] = json.loads(key_file.read_text())["elections"][election_id]
                assert "polynomial" not in record  # only the key share is kept
                assert record["joint_public_key"] == state["joint_public_key"]
                assert record["election_hash"] == state["election_hash"]
                # Nothing secret went to the server.
                assert share.secret.hex() not in json.dumps(state)
                assert keys.box_secret_key.hex() not in json.dumps(state)

            # Running it again is harmless.
            kept = KeyFile.load(key_files[1]).key_share(election_id)
            rerun = subprocess.run(
                _ceremony_command(securevote_cli, base, election_id, key_files[1], emails[1]),
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert rerun.returncode == 0, rerun.stdout + rerun.stderr
            assert KeyFile.load(key_files[1]).key_share(election_id) == kept

            frozen = http.post(f"/api/elections/{election_id}/freeze", headers=owner)
            assert frozen.status_code == 200, frozen.text
            assert frozen.json()["election_hash"] == state["election_hash"]

        # A wrong password is refused without echoing it.
        wrong = subprocess.run(
            _ceremony_command(securevote_cli, base, election_id, key_files[0], emails[0]),
            env={**env, "SECUREVOTE_TRUSTEE_PASSWORD": "not-the-password"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert wrong.returncode == 1 and "login refused" in wrong.stderr
        assert "not-the-password" not in wrong.stdout + wrong.stderr
