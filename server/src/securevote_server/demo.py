"""``securevote demo``: a complete election, end to end, in one command.

    securevote demo                     # all five services in this process, a temporary SQLite
    securevote demo --url http://…      # against a running system (the owner must exist:
                                        #   --owner-email, password in SECUREVOTE_DEMO_PASSWORD)

It goes through the public HTTP APIs only, with the same client code a real organiser,
trustee and voter use (``securevote.trustee`` for the key ceremony and the decryption,
``securevote.voter`` to encrypt, cast and check receipts), and prints each step:

 1. an owner (in-process mode: created as ``securevote admin create`` does) and 3 trustees;
 2. the election (two questions) and the roll from ``samples/sample-voters.csv``;
 3. the key ceremony: 3 trustees, threshold 2, each with its own key file;
 4. freeze and open; invitations go to the dev mailbox (the mail job delivers them);
 5. every voter redeems the link from their mail and casts random choices (encrypted here,
    receipt signature and inclusion proof checked);
 6. close, seal the board, tally (progress shown);
 7. trustees 1 and 3 decrypt (trustee 2 stays away: 2 of 3 suffice);
 8. publish, download the election record and verify it completely;
 9. the results, checked against the plain count of the choices made here.

Everything is synthetic: the sample roll has no real person in it. In-process mode runs in
development mode (built-in keys): never for a real election.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import httpx

from securevote import trustee as trustee_client
from securevote import voter as voter_client
from securevote.trustee_decrypt import decrypt as decrypt_tally

SAMPLE_VOTERS = Path(__file__).resolve().parents[3] / "samples" / "sample-voters.csv"
PASSWORD_ENV = "SECUREVOTE_DEMO_PASSWORD"  # noqa: S105 (a variable name)
TOKEN = re.compile(r"token=([A-Za-z0-9_-]{16,})")
QUESTIONS = [
    {
        "title": "Who should chair the association?",
        "kind": "plurality",
        "options": [{"title": "Ada Lovelace"}, {"title": "Grace Hopper"}, {"title": "Alan Turing"}],
    },
    {
        "title": "Which motions do you approve?",
        "kind": "approval",
        "options": [
            {"title": "Motion A: a reading room"},
            {"title": "Motion B: longer opening hours"},
            {"title": "Motion C: a yearly picnic"},
        ],
    },
]


class DemoError(Exception):
    """A step failed; the message says which and why."""


@dataclass
class Printer:
    out: TextIO
    step: int = 0
    total: int = 10

    def header(self, text: str) -> None:
        self.step += 1
        print(f"\n[{self.step}/{self.total}] {text}", file=self.out, flush=True)

    def line(self, text: str) -> None:
        print(f"      {text}", file=self.out, flush=True)

    def progress(self, label: str, done: int, total: int) -> None:
        if not self.out.isatty() and done < total and done % max(total // 5, 1):
            return  # a log, not a terminal: a few lines, not one per ballot
        width = 30
        filled = width * done // total if total else width
        end = "\n" if done >= total else ""
        bar = "#" * filled + "." * (width - filled)
        start, end = ("\r", end) if self.out.isatty() else ("", "\n")
        print(f"{start}      {label} [{bar}] {done}/{total}", end=end, file=self.out, flush=True)


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)
    return str(body)


class Admin:
    """The organiser's side, through the public API with a logged-in owner."""

    def __init__(self, http: httpx.Client, email: str, password: str) -> None:
        self.http = http
        response = http.post("/api/auth/login", json={"email": email, "password": password})
        if response.status_code != 200:
            raise DemoError(f"the owner's login was refused: {_problem(response)}")
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def call(
        self, method: str, path: str, *, expect: tuple[int, ...] = (200, 201, 202), **kwargs: Any
    ) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = self.http.request(method, path, headers=headers, **kwargs)
        if response.status_code not in expect:
            raise DemoError(f"{method} {path}: {response.status_code} {_problem(response)}")
        return response.json() if response.content else None


@dataclass
class TrusteeSeat:
    index: int
    email: str
    password: str
    account_id: str
    key_file: Path
    api: trustee_client.Api | None = None


@dataclass
class Tally:
    """What the demo voters chose, counted in the clear, to compare with the result."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, choices: dict[str, list[str]]) -> None:
        for question, options in choices.items():
            for option in options:
                self.counts[(question, option)] = self.counts.get((question, option), 0) + 1


def _random_choices(manifest: Any, rng: random.Random) -> dict[str, list[str]]:
    choices = {}
    for question in manifest.questions:
        size = rng.randint(question.min_selections, question.max_selections)
        choices[question.id] = sorted(rng.sample(list(question.option_ids), size))
    return choices


def _specs(manifest: Any, choices: dict[str, list[str]]) -> list[str]:
    specs = []
    for question in manifest.questions:
        if not choices[question.id]:
            specs.append(f"{question.id}=")
        specs += [f"{question.id}={option}" for option in choices[question.id]]
    return specs


def _redeem(http: httpx.Client, token: str) -> str:
    """Redeem an invitation token, waiting out the per-address rate limit (every demo voter
    comes from the same address)."""
    for _ in range(20):
        response = http.post("/api/auth/voter/redeem", json={"token": token})
        if response.status_code == 429:
            time.sleep(min(float(response.headers.get("Retry-After", "5")), 30.0))
            continue
        if response.status_code != 200:
            raise DemoError(f"redeeming an invitation: {response.status_code} {_problem(response)}")
        return str(response.json()["session_token"])
    raise DemoError("redeeming an invitation: still rate limited")


def run_demo(
    url: str,
    *,
    owner_email: str,
    owner_password: str,
    voters_csv: Path,
    workdir: Path,
    out: TextIO,
    seed: int | None = None,
    max_voters: int | None = None,
    workers: int | None = None,
) -> int:
    """The whole election against ``url``; 0 if the record verifies and the result is the
    plain count of the choices made."""
    from securevote.verify import verify_record

    rng = random.Random(seed)  # noqa: S311 - random choices for a demo, not secrets
    say = Printer(out)
    suffix = secrets.token_hex(3)
    quiet = open(workdir / "ceremony.log", "w")  # noqa: SIM115 - closed below
    try:
        with httpx.Client(base_url=url, timeout=60) as http:
            say.header("Organiser and trustees")
            admin = Admin(http, owner_email, owner_password)
            seats = []
            for index in (1, 2, 3):
                email = f"trustee{index}-{suffix}@example.org"
                password = secrets.token_urlsafe(18)
                account = admin.call(
                    "POST",
                    "/api/auth/accounts",
                    json={
                        "email": email,
                        "display_name": f"Trustee {index}",
                        "role": "trustee",
                        "password": password,
                    },
                )
                seats.append(
                    TrusteeSeat(
                        index, email, password, str(account["id"]), workdir / f"t{index}.key"
                    )
                )
                say.line(f"trustee {index}: {email}")

            say.header("Election, questions and the voter roll")
            opens = datetime.now(UTC) + timedelta(hours=1)
            election = admin.call(
                "POST",
                "/api/elections",
                json={
                    "title": f"Demo association vote {suffix}",
                    "description": "A demonstration election with synthetic voters.",
                    "time_zone": "UTC",
                    "opens_at": opens.isoformat(),
                    "closes_at": (opens + timedelta(days=7)).isoformat(),
                    "settings": {"allow_revoting": False, "second_factor": "none"},
                    "trustee_count": 3,
                    "threshold": 2,
                },
            )
            election_id = str(election["id"])
            base = f"/api/elections/{election_id}"
            for question in QUESTIONS:
                admin.call("POST", f"{base}/questions", json=question)
            imported = admin.call(
                "POST",
                f"{base}/voters/import",
                content=voters_csv.read_bytes(),
                headers={"Content-Type": "text/csv"},
            )
            say.line(f"election {election_id}")
            say.line(
                f"roll imported from {voters_csv.name}: {imported['imported']} voters, "
                f"{imported['rejected']} rejected"
            )

            say.header("Key ceremony: 3 trustees, any 2 can decrypt")
            admin.call(
                "PUT",
                f"{base}/trustees",
                json={
                    "trustees": [
                        {"account_id": s.account_id, "name": f"Trustee {s.index}"} for s in seats
                    ],
                    "threshold": 2,
                },
            )
            ceremonies = []
            for seat in seats:
                keys = trustee_client.KeyFile.create(seat.key_file)
                seat.api = trustee_client.Api(
                    url, email=seat.email, password=seat.password, totp_code=None, timeout=60
                )
                seat.api.login()
                ceremonies.append(trustee_client.Ceremony(seat.api, keys, election_id, out=quiet))
            status: dict[int, str] = {}
            for _ in range(12):
                for seat, ceremony in zip(seats, ceremonies, strict=True):
                    status[seat.index] = ceremony.advance()
                say.line("status: " + ", ".join(f"trustee {i} {s}" for i, s in status.items()))
                if all(s in trustee_client.FINAL for s in status.values()):
                    break
            if set(status.values()) != {"complete"}:
                raise DemoError(f"the key ceremony did not complete: {status}")

            say.header("Freeze and open; invitations into the dev mailbox")
            admin.call("POST", f"{base}/freeze")
            admin.call("POST", f"{base}/open")
            admin.call("POST", f"/api/auth/elections/{election_id}/invitations")
            roll = max(len(voters_csv.read_text().strip().splitlines()) - 1, 0)
            tokens = _collect_tokens(admin, election_id, roll, say)
            say.line(f"{len(tokens)} invitation mails delivered to the dev mailbox")

            say.header("Voting: each voter encrypts random choices and casts")
            public = voter_client.fetch_context(http, election_id)
            manifest = public.context.manifest
            plain = Tally()
            chosen = tokens if max_voters is None else tokens[:max_voters]
            for number, token in enumerate(chosen, start=1):
                session = _redeem(http, token)
                choices = _random_choices(manifest, rng)
                voter_client.cast(
                    http,
                    session_token=session,
                    choice_specs=_specs(manifest, choices),
                    election_id=election_id,
                )
                plain.add(choices)
                say.progress("ballots cast", number, len(chosen))

            say.header("Close, seal the board, tally")
            admin.call("POST", f"{base}/close")
            head = admin.call("POST", f"/api/ballots/elections/{election_id}/board/seal")
            say.line(f"board sealed: {head['head']['size']} ballots, root {head['head']['root']}")
            results_base = f"/api/results/elections/{election_id}"
            admin.call("POST", f"{results_base}/tally")
            shown = -1
            while True:
                progress = admin.call("GET", f"{results_base}/tally")
                if progress["processed"] != shown:
                    shown = progress["processed"]
                    say.progress("aggregated", shown, max(progress["total"], 1))
                if progress["status"] == "done":
                    if progress["total"] == 0:
                        print(file=out)
                    break
                time.sleep(0.5)

            say.header("Decryption: trustees 1 and 3 (trustee 2 stays away)")
            for seat in (seats[0], seats[2]):
                assert seat.api is not None
                keys = trustee_client.KeyFile.load(seat.key_file)
                share = keys.key_share(election_id)
                if share is None:
                    raise DemoError(f"trustee {seat.index} has no key share")
                answer = decrypt_tally(
                    seat.api,
                    election_id=election_id,
                    key_share=share,
                    election_hash=keys.document["elections"][election_id].get("election_hash"),
                )
                say.line(
                    f"trustee {seat.index}: shares posted with proofs "
                    f"({len(answer['shares_from'])} of threshold {answer['threshold']})"
                    + ("; the tally is decrypted" if answer["decrypted"] else "")
                )

            say.header("Publish")
            published = admin.call("POST", f"{results_base}/publish")
            say.line(f"published at {published['published_at']}")

            say.header("Download and verify the election record")
            record = http.get(f"{results_base}/record")
            if record.status_code != 200:
                raise DemoError(f"the record: {record.status_code} {_problem(record)}")
            record_path = workdir / f"election-record-{election_id}.zip"
            record_path.write_bytes(record.content)
            report = verify_record(record_path, workers=workers)
            for check in report.checks:
                say.line(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
            say.line(f"record: {record_path}")

            say.header("Results")
            results = http.get(f"{results_base}/results").json()
            matches = _print_results(results, plain, say)
            verdict = "PASSED" if report.ok else "FAILED"
            say.line("")
            say.line(
                f"verifier: {verdict}; result equals the plain count of the choices made: "
                f"{'yes' if matches else 'NO'}"
            )
            for seat in seats:
                if seat.api is not None:
                    seat.api.close()
            return 0 if report.ok and matches else 1
    finally:
        quiet.close()


def _collect_tokens(admin: Admin, election_id: str, roll: int, say: Printer) -> list[str]:
    deadline = time.monotonic() + 180
    tokens: list[str] = []
    while time.monotonic() < deadline:
        mails = admin.call(
            "GET", f"/api/auth/elections/{election_id}/dev-mailbox", params={"limit": 1000}
        )["mails"]
        tokens = []
        for mail in mails:
            found = TOKEN.search(mail["text"])
            if found and found.group(1) not in tokens:
                tokens.append(found.group(1))
        say.progress("invitations delivered", min(len(tokens), roll), roll)
        if len(tokens) >= roll:
            return tokens
        time.sleep(1.0)
    raise DemoError(f"only {len(tokens)} of {roll} invitations arrived in the dev mailbox")


def _print_results(results: dict[str, Any], plain: Tally, say: Printer) -> bool:
    turnout = results["turnout"]
    say.line(
        f"{results['title']}: {turnout['counted_ballots']} ballots of "
        f"{turnout['eligible_voters']} eligible voters ({turnout['percent']:.2f}%)"
    )
    matches = True
    for question in results["questions"]:
        say.line("")
        say.line(question["label"])
        for option in question["options"]:
            mark = (
                "  winner"
                if option["winner"]
                else "  tie"
                if option["option"] in question["tied"]
                else ""
            )
            expected = plain.counts.get((question["question"], option["option"]), 0)
            matches &= expected == option["count"]
            say.line(
                f"  {option['label'][:40]:<40} {option['count']:>5}  "
                f"{option['percent']:6.2f}%{mark}"
            )
        if question["tie"]:
            say.line("  (a tie for the last seat: no winner declared among the tied options)")
    rec = results["reconciliation"]
    say.line("")
    say.line(
        f"reconciliation: counted {rec['counted_ballots']} = voters marked as voted "
        f"{rec['voters_marked_as_voted']}; receipts {rec['receipts_issued']}; superseded "
        f"{rec['superseded_ballots']}; spoiled {rec['spoiled_ballots']}"
    )
    return matches


# --- In-process: the all-in-one app on a loopback port ---------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def in_process_server(workdir: Path) -> Iterator[tuple[str, Callable[[str, str], None]]]:
    """The five services over a fresh SQLite database in ``workdir``, served on a loopback
    port from a background thread; yields the URL and a function that creates the owner."""
    import uvicorn

    from securevote import migrations
    from securevote.config import Settings
    from securevote_server.allinone import create_all_in_one

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        mode="dev",
        database_url=f"sqlite+aiosqlite:///{workdir / 'demo.db'}",
        log_level="ERROR",
        public_url=url,
    )
    migrations.upgrade(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            create_all_in_one(settings),
            host="127.0.0.1",
            port=port,
            log_config=None,
            log_level="error",
            access_log=False,
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, name="securevote-demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise DemoError("the in-process server did not start")
        time.sleep(0.05)

    def create_owner(email: str, password: str) -> None:
        from auth_service import accounts
        from auth_service.context import AuthContext
        from securevote.db import Database

        async def create() -> None:
            database = Database(settings)
            try:
                ctx = AuthContext.build(settings=settings, database=database)
                await accounts.create_owner(
                    ctx=ctx,
                    organisation_name="Demo Association",
                    email=email,
                    display_name="Demo Owner",
                    password=password,
                )
            finally:
                await database.dispose()

        asyncio.run(create())

    try:
        yield url, create_owner
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _demo(args: argparse.Namespace) -> int:
    import os

    from securevote.logging import configure_logging

    configure_logging("ERROR")
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="sv-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    voters = Path(args.voters)
    print(f"secure-vote demo (working files in {workdir})", flush=True)
    try:
        if args.url:
            password = os.environ.get(PASSWORD_ENV)
            if not args.owner_email or not password:
                print(
                    f"securevote: --url needs --owner-email and the owner's password in "
                    f"{PASSWORD_ENV}",
                    file=sys.stderr,
                )
                return 2
            return run_demo(
                args.url.rstrip("/"),
                owner_email=args.owner_email,
                owner_password=password,
                voters_csv=voters,
                workdir=workdir,
                out=sys.stdout,
                seed=args.seed,
                max_voters=args.max_voters,
                workers=args.workers,
            )
        print("starting all five services in this process (development mode, SQLite) …")
        with in_process_server(workdir) as (url, create_owner):
            email, password = "owner@example.org", secrets.token_urlsafe(18)
            create_owner(email, password)
            print(f"serving at {url}; owner {email} created", flush=True)
            return run_demo(
                url,
                owner_email=email,
                owner_password=password,
                voters_csv=voters,
                workdir=workdir,
                out=sys.stdout,
                seed=args.seed,
                max_voters=args.max_voters,
                workers=args.workers,
            )
    except (DemoError, trustee_client.TrusteeError, voter_client.VoterError) as exc:
        print(f"\nsecurevote demo: {exc}", file=sys.stderr)
        return 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run a complete demo election end to end (in-process, or against --url)",
        description="Exit status 0 if the record verifies and the published result equals the "
        "plain count of the random choices the demo voters made.",
    )
    demo.add_argument("--url", help="a running secure-vote (default: start one in-process)")
    demo.add_argument("--owner-email", help="with --url: an existing owner account")
    demo.add_argument("--voters", default=str(SAMPLE_VOTERS), help="the roll (CSV)")
    demo.add_argument("--max-voters", type=int, help="only the first N invited voters vote")
    demo.add_argument("--seed", type=int, help="seed of the random choices")
    demo.add_argument("--workdir", help="where key files and the record go (default: temp)")
    demo.add_argument("--workers", type=int, help="verifier processes (default: cores)")
    demo.set_defaults(func=_demo)
