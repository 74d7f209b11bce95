"""Benchmark of the tally: aggregation, decryption, record verification (prints figures only).

For each size in ``--ballots`` (default 100000 and 1000000):

1. **board**: a closed election with a real 2-of-3 ceremony and a sealed board of N ballots is
   written straight into a fresh SQLite database (``--database-url`` for another one). The
   ballots are real encryptions, but to keep set-up time reasonable a pool of ``--pool``
   distinct ballots is reused (each row gets its own credential, tracker and leaf): the tally
   parses and adds every row exactly as it would distinct ballots.
2. **aggregate**: the results service's own code (``start_tally`` with its board checks,
   then ``run_tally`` batch by batch, each batch committed), timed.
3. **decrypt**: trustees 1 and 3 compute their shares with proofs; the service verifies each
   share and combines (Lagrange + baby-step giant-step up to N), timed.

Then **verification**: a record of ``--verify-ballots`` distinct real ballots is built and
``securevote verify``'s ``verify_record`` timed on all cores; the time for a record of N
ballots is extrapolated linearly (the per-ballot proof checks dominate; everything else is
small), since encrypting a million distinct ballots would take hours here.

Usage: uv run python benchmarks/tally_bench.py [--ballots 100000 1000000] [--pool 200]
       [--verify-ballots 2000] [--batch 2000] [--workers N]
Targets (issue 7, 2 cores): aggregation of 1M ballots <= 2 min; full verification <= 15 min.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update

from election_service.models import CeremonyTrustee, Election
from results_service import service
from results_service.service import ResultsError
from securevote import migrations
from securevote.auth import Principal, PrincipalKind, Role
from securevote.ballots import (
    ElectionContext,
    Manifest,
    OptionDefinition,
    QuestionDefinition,
    aggregate_ballots,
    counted_ballots,
    encrypt_ballot,
    tally_label,
)
from securevote.config import Settings
from securevote.crypto.elgamal import Ciphertext
from securevote.crypto.merkle import (
    MerkleTree,
    generate_signing_keypair,
    leaf_hash,
    sign_tree_head,
)
from securevote.crypto.threshold import (
    CeremonyParameters,
    KeyShare,
    TrusteeIdentity,
    compute_decryption_share,
    deal,
    generate_box_keypair,
    receive_shares,
)
from securevote.db import Database
from securevote.record import build_record, decrypt_tally, trustees_document, write_record
from securevote.verify import verify_record
from voting_service.models import Ballot, BoardHead, BoardState, CountedBallot

ORG = "org-bench"
ACCOUNTS = {1: "bench-trustee-1", 2: "bench-trustee-2", 3: "bench-trustee-3"}


def manifest_for(election_id: str) -> Manifest:
    return Manifest(
        election_id=election_id,
        title="Benchmark election",
        questions=(
            QuestionDefinition(
                id="chair",
                label="Chair",
                options=tuple(OptionDefinition(id=f"c{i}", label=f"Candidate {i}") for i in "123"),
                min_selections=1,
                max_selections=1,
            ),
            QuestionDefinition(
                id="motions",
                label="Motions",
                options=tuple(OptionDefinition(id=f"m{i}", label=f"Motion {i}") for i in "12"),
                min_selections=0,
                max_selections=2,
            ),
        ),
    )


def ceremony(manifest: Manifest) -> tuple[ElectionContext, dict[int, KeyShare]]:
    boxes = {i: generate_box_keypair() for i in (1, 2, 3)}
    trustees = tuple(TrusteeIdentity(i, f"trustee-{i}", boxes[i][0]) for i in boxes)
    params = CeremonyParameters(
        manifest_hash=manifest.manifest_hash, threshold=2, trustees=trustees
    )
    dealings = {i: deal(params=params, index=i) for i in boxes}
    commitments = {i: d.commitment for i, d in dealings.items()}
    sealed = [box for d in dealings.values() for box in d.shares]
    shares = {}
    for i, (public, secret) in boxes.items():
        share, _ = receive_shares(
            params=params,
            index=i,
            box_public_key=public,
            box_secret_key=secret,
            commitments=commitments,
            shares=sealed,
        )
        assert share is not None
        shares[i] = share
    return ElectionContext(manifest, 2, trustees, tuple(commitments[i] for i in boxes)), shares


CHOICES = [
    {"chair": ["c1"], "motions": ["m1"]},
    {"chair": ["c2"], "motions": []},
    {"chair": ["c3"], "motions": ["m1", "m2"]},
    {"chair": ["c1"], "motions": ["m2"]},
]


def principal(subject: str, role: Role) -> Principal:
    return Principal(
        kind=PrincipalKind.ADMIN,
        subject=subject,
        token_id="bench",  # noqa: S106 - an id, not a secret
        expires_at=2**40,
        organisation_id=ORG,
        roles=frozenset({role}),
    )


async def write_board(
    database: Database, n: int, pool_size: int
) -> tuple[str, ElectionContext, dict[int, KeyShare], dict[tuple[str, str], int]]:
    election_id = str(uuid.uuid4())
    context, key_shares = ceremony(manifest_for(election_id))
    key, eh = context.joint_key, context.election_hash
    pool = []
    expected: dict[tuple[str, str], int] = {}
    for i in range(pool_size):
        ballot, _ = encrypt_ballot(
            manifest=context.manifest,
            public_key=key,
            election_hash=eh,
            credential=f"pool-{i}",
            choices=CHOICES[i % len(CHOICES)],
        )
        pool.append(ballot.canonical_bytes().decode())
    for i in range(n):
        for question, options in CHOICES[(i % pool_size) % len(CHOICES)].items():
            for option in options:
                expected[(question, option)] = expected.get((question, option), 0) + 1
    now = datetime.now(UTC)
    async with database.session() as session:
        session.add(
            Election(
                id=election_id,
                organisation_id=ORG,
                title="Benchmark election",
                description="",
                time_zone="UTC",
                opens_at=now - timedelta(hours=2),
                closes_at=now + timedelta(days=1),
                allow_revoting=False,
                second_factor="none",
                state="draft",
                trustee_count=3,
                threshold=2,
                context_document={
                    "manifest": context.manifest.to_json(),
                    "trustees": trustees_document(context),
                    "threshold": 2,
                },
                election_hash=eh.hex(),
                created_by="admin:bench",
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        for index, account in ACCOUNTS.items():
            session.add(
                CeremonyTrustee(
                    election_id=election_id,
                    trustee_index=index,
                    account_id=account,
                    name=f"trustee-{index}",
                )
            )
    for state in ("frozen", "open", "closed"):
        async with database.session() as session:
            await session.execute(
                update(Election).where(Election.id == election_id).values(state=state)
            )
    leaves = []
    chunk = 20_000
    for start in range(0, n, chunk):
        rows, counted = [], []
        for i in range(start, min(start + chunk, n)):
            tracker = secrets.token_bytes(32)
            leaf = leaf_hash(tracker)
            leaves.append(leaf)
            credential = f"cred-{i:08d}"
            rows.append(
                {
                    "election_id": election_id,
                    "board_index": i,
                    "credential": credential,
                    "tracker": tracker,
                    "leaf_hash": leaf,
                    "ballot": pool[i % pool_size],
                    "idempotency_key": None,
                }
            )
            counted.append({"election_id": election_id, "credential": credential, "board_index": i})
        async with database.session() as session:
            await session.execute(insert(Ballot), rows)
            await session.execute(insert(CountedBallot), counted)
        if sys.stdout.isatty():
            print(f"\r  board: {min(start + chunk, n):>9,} / {n:,} rows", end="", flush=True)
    print(f"\r  board: {n:,} rows written (ballots, counted markers), sealed")
    _, board_secret = generate_signing_keypair(b"\x07" * 32)
    root = MerkleTree(leaves).root(n)
    head = sign_tree_head(
        election_hash=eh, size=n, root=root, timestamp=int(time.time()), secret_key=board_secret
    )
    async with database.session() as session:
        session.add(BoardState(election_id=election_id, size=n, sealed=True))
        session.add(
            BoardHead(
                election_id=election_id,
                size=n,
                root=head.root,
                timestamp=head.timestamp,
                signature=head.signature,
                final=True,
            )
        )
    return election_id, context, key_shares, expected


async def bench_size(settings: Settings, n: int, pool: int, batch: int) -> None:
    database = Database(settings)
    try:
        print(f"\n== {n:,} ballots ==")
        started = time.perf_counter()
        election_id, context, key_shares, expected = await write_board(database, n, pool)
        print(f"  set-up (board written, not timed below): {time.perf_counter() - started:.1f} s")

        owner = principal("bench-owner", Role.OWNER)
        started = time.perf_counter()
        view, _ = await service.start_tally(database, election_id=election_id, principal=owner)
        checks = time.perf_counter() - started
        started = time.perf_counter()
        await service.run_tally(database, election_id=election_id, batch_size=batch)
        aggregation = time.perf_counter() - started
        print(f"  board checks (seal, head covers board, Merkle root, counted): {checks:.2f} s")
        print(
            f"  aggregation: {aggregation:.2f} s for {view.total:,} counted ballots "
            f"({view.total / aggregation:,.0f} ballots/s, batches of {batch})"
        )

        started = time.perf_counter()
        aggregate = await service.aggregate_view(
            database, election_id=election_id, principal=principal(ACCOUNTS[1], Role.TRUSTEE)
        )
        computed = {}
        for index in (1, 3):
            shares = []
            for entry in aggregate.aggregate:
                share = compute_decryption_share(
                    key_share=key_shares[index],
                    ciphertext=Ciphertext.from_json(entry["ciphertext"]),
                    election_hash=context.election_hash,
                    label=tally_label(entry["question"], entry["option"]),
                )
                shares.append(
                    {
                        "question": entry["question"],
                        "option": entry["option"],
                        "share": share.share.hex(),
                        "proof": share.proof.to_json(),
                    }
                )
            computed[index] = shares
        trustee_side = time.perf_counter() - started
        started = time.perf_counter()
        outcome = None
        for index in (1, 3):
            outcome = await service.submit_shares(
                database,
                election_id=election_id,
                principal=principal(ACCOUNTS[index], Role.TRUSTEE),
                trustee=index,
                document=computed[index],
            )
        decryption = time.perf_counter() - started
        assert outcome is not None and outcome.decrypted
        await service.mark_published(database, election_id=election_id, principal=owner)
        published = await service.published(database, election_id=election_id)
        counts = {
            (q["question"], o["option"]): o["count"]
            for q in published.result.counts["questions"]
            for o in q["options"]
        }
        assert all(counts[k] == expected.get(k, 0) for k in counts), "wrong counts"
        print(f"  trustees' shares with proofs (2 trustees, client side): {trustee_side:.2f} s")
        print(
            f"  decryption (verify 2 share sets, combine, discrete logs up to {n:,}): "
            f"{decryption:.2f} s"
        )
        print(f"  counts equal the plain count: yes ({counts})")
        print(f"  aggregate + decrypt: {aggregation + decryption:.1f} s")
    finally:
        await database.dispose()


def bench_verification(sizes: list[int], count: int, workers: int | None) -> None:
    print(f"\n== verification of a record of {count:,} distinct ballots ==")
    context, key_shares = ceremony(manifest_for("bench-verify"))
    started = time.perf_counter()
    ballots = [
        encrypt_ballot(
            manifest=context.manifest,
            public_key=context.joint_key,
            election_hash=context.election_hash,
            credential=f"voter-{i}",
            choices=CHOICES[i % len(CHOICES)],
        )[0]
        for i in range(count)
    ]
    print(f"  set-up: {count:,} ballots encrypted in {time.perf_counter() - started:.1f} s")
    public, secret = generate_signing_keypair(b"\x08" * 32)
    tree = MerkleTree([leaf_hash(b.tracker) for b in ballots])
    head = sign_tree_head(
        election_hash=context.election_hash,
        size=count,
        root=tree.root(count),
        timestamp=1_700_000_000,
        secret_key=secret,
    )
    aggregate = aggregate_ballots(counted_ballots(ballots), context.manifest)
    shares = {
        t: {
            k: compute_decryption_share(
                key_share=key_shares[t],
                ciphertext=c,
                election_hash=context.election_hash,
                label=tally_label(*k),
            )
            for k, c in aggregate.items()
        }
        for t in (1, 3)
    }
    counts = decrypt_tally(context=context, aggregate=aggregate, shares=shares)
    record = build_record(
        context=context,
        board_public_key=public,
        ballots=ballots,
        heads=[(head, None)],
        spoiled=[],
        aggregate=aggregate,
        shares=shares,
        counts=counts,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "record.zip"
        write_record(path, record)
        cores = workers or os.cpu_count() or 1
        started = time.perf_counter()
        report = verify_record(path, workers=workers)
        elapsed = time.perf_counter() - started
    assert report.ok, [c for c in report.checks if not c.ok]
    print(
        f"  verify_record: {elapsed:.2f} s on {cores} processes "
        f"({count / elapsed:,.0f} ballots/s); every check passed"
    )
    for n in sizes:
        print(f"  extrapolated for {n:,} ballots: {elapsed * n / count / 60:.1f} min")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--pool", type=int, default=200, help="distinct real ballots reused")
    parser.add_argument("--batch", type=int, default=service.TALLY_BATCH)
    parser.add_argument("--verify-ballots", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=None, help="verifier processes")
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()
    print(f"tally benchmark on {os.cpu_count()} cores; python {sys.version.split()[0]}")
    for n in args.ballots:
        with tempfile.TemporaryDirectory() as folder:
            url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            settings = Settings(mode="test", test_mode=True, log_level="WARNING", database_url=url)
            migrations.upgrade(settings)
            try:
                asyncio.run(bench_size(settings, n, args.pool, args.batch))
            except ResultsError as error:
                print(f"  refused: {error.detail}")
                return 1
    bench_verification(args.ballots, args.verify_ballots, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
