"""Prepare an election for the load test on a running secure-vote (the local cluster).

    SECUREVOTE_LOAD_PASSWORD=… uv run python benchmarks/load/setup_election.py \\
        --url http://127.0.0.1:18080 --owner-email OWNER --voters 200 --out var/load/voters.json

Through the public APIs only, as the owner (who must exist: ``securevote admin create``):
an election with the demo questions and the demo server trustee, a roll of N synthetic
voters, frozen and opened; the invitations are sent and the voting links read back from the
dev mailbox (so the cluster must not run in prod mode). Then, outside any timed section, each
voter redeems the link once — the session names the voter's credential, which the ballot's
proofs are bound to — and a ballot of random choices is encrypted with its proofs, as
``securevote vote`` does. A voter's token stays valid until a ballot of that voter is stored,
so the load test (``locustfile.py``) redeems it again and casts the ballot.

Each simulated voter has an address of its own in 198.18.0.0/15 (RFC 2544's range for
benchmarks), sent as ``X-Forwarded-For``: real voters come from many addresses, and the
per-address redemption limit would otherwise measure itself. The services take the header
only from loopback (the cluster sets SECUREVOTE_TRUSTED_PROXIES=127.0.0.1), which is where nginx
and this script are.

The voters file (mode 0600: it holds live voting links of synthetic voters) is
``{"url", "election_id", "voters": [{"token", "address", "tracker", "ballot", "choices"}]}``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from securevote import voter as voter_client
from securevote.ballots import encrypt_ballot
from securevote_server.demo import QUESTIONS, TOKEN, Admin

PASSWORD_ENV = "SECUREVOTE_LOAD_PASSWORD"  # noqa: S105 (a variable name)


def voter_address(number: int) -> str:
    """The synthetic client address of voter ``number`` (0-based) in 198.18.0.0/15."""
    if not 0 <= number < 2**17:
        raise ValueError("at most 131072 synthetic voters")
    return f"198.{18 + number // 65536}.{number // 256 % 256}.{number % 256}"


def roll_csv(voters: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["external_id", "name", "email"])
    for number in range(1, voters + 1):
        writer.writerow([f"L{number:06d}", f"Load Voter {number}", f"voter{number}@example.org"])
    return out.getvalue().encode()


def open_election(admin: Admin, voters: int, title: str) -> str:
    """An open election of ``voters`` synthetic voters with the server trustee; its id."""
    opens = datetime.now(UTC) + timedelta(hours=1)
    election = admin.call(
        "POST",
        "/api/elections",
        json={
            "title": title,
            "description": "Load test: synthetic voters.",
            "time_zone": "UTC",
            "opens_at": opens.isoformat(),
            "closes_at": (opens + timedelta(days=1)).isoformat(),
            "settings": {"allow_revoting": False, "second_factor": "none"},
        },
    )
    base = f"/api/elections/{election['id']}"
    for question in QUESTIONS:
        admin.call("POST", f"{base}/questions", json=question)
    imported = admin.call(
        "POST",
        f"{base}/voters/import",
        content=roll_csv(voters),
        headers={"Content-Type": "text/csv"},
    )
    if imported["imported"] != voters:
        raise SystemExit(f"the roll import took {imported['imported']} of {voters} voters")
    admin.call("PUT", f"{base}/trustees", json={"server_trustee": True})
    admin.call("POST", f"{base}/freeze")
    admin.call("POST", f"{base}/open")
    return str(election["id"])


def voting_tokens(admin: Admin, election_id: str, voters: int, timeout: float = 300) -> list[str]:
    """Send the invitations; the tokens of the voting links in the dev mailbox (the mail job
    delivers them within seconds)."""
    if voters > 1000:
        raise SystemExit("the dev mailbox lists at most 1000 mails: use at most 1000 voters")
    admin.call("POST", f"/api/auth/elections/{election_id}/invitations")
    deadline = time.monotonic() + timeout
    while True:
        mails = admin.call(
            "GET", f"/api/auth/elections/{election_id}/dev-mailbox", params={"limit": 1000}
        )["mails"]
        tokens = sorted({m.group(1) for mail in mails if (m := TOKEN.search(mail["text"]))})
        if len(tokens) >= voters:
            return tokens
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(tokens)} of {voters} invitations arrived")
        time.sleep(1.0)


def redeem(http: httpx.Client, token: str, address: str) -> str:
    """A voter session for ``token``, asked from the voter's own address."""
    response = http.post(
        "/api/auth/voter/redeem", json={"token": token}, headers={"X-Forwarded-For": address}
    )
    if response.status_code != 200:
        raise SystemExit(f"redeeming a voting link: HTTP {response.status_code}")
    return str(response.json()["session_token"])


def random_choices(manifest: Any, rng: random.Random) -> dict[str, list[str]]:
    return {
        question.id: sorted(
            rng.sample(
                list(question.option_ids),
                rng.randint(question.min_selections, question.max_selections),
            )
        )
        for question in manifest.questions
    }


def prepare_voter(
    http: httpx.Client,
    public: voter_client.PublicContext,
    *,
    token: str,
    address: str,
    rng: random.Random,
) -> dict[str, Any]:
    """Redeem once for the credential; an encrypted ballot of random choices, with proofs."""
    credential = voter_client.session_claims(redeem(http, token, address))["cred"]
    choices = random_choices(public.context.manifest, rng)
    ballot, _seed = encrypt_ballot(
        manifest=public.context.manifest,
        public_key=public.context.joint_key,
        election_hash=public.election_hash,
        credential=credential,
        choices=choices,
    )
    return {
        "token": token,
        "address": address,
        "tracker": ballot.tracker.hex(),
        "ballot": ballot.to_json(),
        "choices": choices,
    }


def prepare(
    url: str, *, owner_email: str, password: str, voters: int, seed: int | None, out: Path
) -> dict[str, Any]:
    rng = random.Random(seed)  # noqa: S311 - random choices of synthetic voters
    with httpx.Client(base_url=url, timeout=60) as http:
        admin = Admin(http, owner_email, password)
        title = f"Load test {datetime.now(UTC):%Y-%m-%d %H:%M:%S} ({voters} voters)"
        election_id = open_election(admin, voters, title)
        print(f"election {election_id}: {voters} voters, open", flush=True)
        tokens = voting_tokens(admin, election_id, voters)
        print(f"{len(tokens)} voting links from the dev mailbox", flush=True)
        public = voter_client.fetch_context(http, election_id)
        prepared = []
        started = time.perf_counter()
        for number, token in enumerate(tokens):
            prepared.append(
                prepare_voter(http, public, token=token, address=voter_address(number), rng=rng)
            )
            if (number + 1) % 100 == 0 or number + 1 == len(tokens):
                print(f"  {number + 1}/{len(tokens)} ballots encrypted", flush=True)
        print(f"prepared in {time.perf_counter() - started:.1f} s", flush=True)
    document = {"url": url, "election_id": election_id, "voters": prepared}
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle)
    print(f"voters file: {out}", flush=True)
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the gateway, e.g. http://127.0.0.1:18080")
    parser.add_argument("--owner-email", required=True, help=f"password in {PASSWORD_ENV}")
    parser.add_argument("--voters", type=int, default=200, help="roll size (1-1000)")
    parser.add_argument("--seed", type=int, help="seed of the random choices")
    parser.add_argument("--out", type=Path, default=Path("var/load/voters.json"))
    args = parser.parse_args(argv)
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        parser.error(f"the owner's password goes in {PASSWORD_ENV}")
    if not 1 <= args.voters <= 1000:
        parser.error("--voters must be between 1 and 1000")
    if not re.fullmatch(r"https?://[^\s/?#]+", args.url.rstrip("/")):
        parser.error("--url is the site's base address")
    prepare(
        args.url.rstrip("/"),
        owner_email=args.owner_email,
        password=password,
        voters=args.voters,
        seed=args.seed,
        out=args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
