"""Protocol benchmark: prints figures, asserts nothing about timings.

    uv run python benchmarks/protocol_bench.py [--ballots 100000] [--record 2000] [--workers N]

1. encrypt+prove and verify one ballot: 1-of-5 (plurality) and up-to-3-of-10;
2. ballot verification throughput on all cores;
3. aggregate + threshold-decrypt N ballots (default 100k; the ciphertexts cycle through a pool
   of distinct real ballots, which costs the same as N distinct ones);
4. full `verify_record` of a synthetic record of --record ballots, extrapolated to 1M.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from securevote.ballots import (
    ElectionContext,
    EncryptedBallot,
    Manifest,
    OptionDefinition,
    QuestionDefinition,
    aggregate_ballots,
    encrypt_ballot,
    tally_label,
    verify_ballot,
)
from securevote.crypto.elgamal import ZERO_CIPHERTEXT, Ciphertext
from securevote.crypto.merkle import MerkleTree, generate_signing_keypair, sign_tree_head
from securevote.crypto.threshold import (
    CeremonyParameters,
    KeyShare,
    TrusteeIdentity,
    compute_decryption_share,
    deal,
    generate_box_keypair,
    receive_shares,
)
from securevote.record import build_record, decrypt_tally, write_record
from securevote.verify import verify_record


def manifest_for(options: int, low: int, high: int) -> Manifest:
    return Manifest(
        election_id=f"bench-{low}-{high}-of-{options}",
        title="Benchmark",
        questions=(
            QuestionDefinition(
                id="q",
                label="Question",
                options=tuple(
                    OptionDefinition(id=f"o{i}", label=f"Option {i}") for i in range(options)
                ),
                min_selections=low,
                max_selections=high,
            ),
        ),
    )


def setup(manifest: Manifest) -> tuple[ElectionContext, dict[int, KeyShare]]:
    boxes = {i: generate_box_keypair() for i in (1, 2, 3)}
    trustees = tuple(TrusteeIdentity(i, f"t{i}", boxes[i][0]) for i in boxes)
    params = CeremonyParameters(
        manifest_hash=manifest.manifest_hash, threshold=2, trustees=trustees
    )
    dealings = {i: deal(params=params, index=i) for i in boxes}
    commitments = {i: d.commitment for i, d in dealings.items()}
    shares = [s for d in dealings.values() for s in d.shares]
    key_shares = {}
    for i, (public, secret) in boxes.items():
        share, _ = receive_shares(
            params=params,
            index=i,
            box_public_key=public,
            box_secret_key=secret,
            commitments=commitments,
            shares=shares,
        )
        assert share is not None
        key_shares[i] = share
    return ElectionContext(manifest, 2, trustees, tuple(commitments.values())), key_shares


def timed(function: Callable[[], Any], repeat: int) -> float:
    """Median seconds per call."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


# --- worker functions (module level so multiprocessing can pickle them) ---------------------

_state: dict[str, Any] = {}


def _init(context: ElectionContext) -> None:
    _state["context"] = context
    _state["key"] = context.joint_key
    _state["hash"] = context.election_hash


def _make_ballot(number: int) -> EncryptedBallot:
    context: ElectionContext = _state["context"]
    question = context.manifest.questions[0]
    count = max(question.min_selections, min(question.max_selections, 1 + number % 3))
    chosen = [question.option_ids[(number + i) % len(question.option_ids)] for i in range(count)]
    ballot, _ = encrypt_ballot(
        manifest=context.manifest,
        public_key=_state["key"],
        election_hash=_state["hash"],
        credential=f"voter-{number}",
        choices={question.id: chosen},
    )
    return ballot


def _verify(ballot: EncryptedBallot) -> bool:
    context: ElectionContext = _state["context"]
    return verify_ballot(
        ballot, manifest=context.manifest, public_key=_state["key"], election_hash=_state["hash"]
    )


def _init_rows(rows: list[list[Ciphertext]]) -> None:
    _state["rows"] = rows


def _sum_range(bounds: tuple[int, int]) -> list[Ciphertext]:
    """Sum ballots first..last-1, ballot i being row i mod len(rows) of the distinct pool."""
    rows: list[list[Ciphertext]] = _state["rows"]
    first, last = bounds
    totals = [ZERO_CIPHERTEXT] * len(rows[0])
    for i in range(first, last):
        totals = [total + c for total, c in zip(totals, rows[i % len(rows)], strict=True)]
    return totals


def _pool(workers: int, context: ElectionContext) -> Any:
    return multiprocessing.get_context().Pool(workers, _init, (context,))


def bench_ballot(label: str, manifest: Manifest, repeat: int) -> ElectionContext:
    context, _ = setup(manifest)
    _init(context)
    ballot = _make_ballot(1)
    encrypt_seconds = timed(lambda: _make_ballot(1), repeat)
    verify_seconds = timed(lambda: _verify(ballot), repeat)
    size = len(ballot.canonical_bytes())
    print(
        f"{label:>22}: encrypt+prove {encrypt_seconds * 1e3:7.2f} ms   "
        f"verify {verify_seconds * 1e3:7.2f} ms   ({size} bytes canonical JSON)"
    )
    return context


def bench_throughput(context: ElectionContext, workers: int, count: int) -> None:
    with _pool(workers, context) as pool:
        ballots = pool.map(_make_ballot, range(count), chunksize=32)
        start = time.perf_counter()
        results = pool.map(_verify, ballots, chunksize=32)
        elapsed = time.perf_counter() - start
    assert all(results)
    rate = count / elapsed
    print(
        f"verification throughput (1-of-5, {workers} processes): {rate:8.0f} ballots/s "
        f"= {elapsed / count * workers * 1e3:.2f} ms per ballot per core"
    )


def bench_tally(
    context: ElectionContext, key_shares: dict[int, KeyShare], n: int, workers: int
) -> None:
    pool_size = min(n, 1000)
    with _pool(workers, context) as pool:
        distinct = pool.map(_make_ballot, range(pool_size), chunksize=32)
    rows = [[s.ciphertext for s in b.questions[0].selections] for b in distinct]
    start = time.perf_counter()
    chunk = max(1, n // (workers * 8))
    bounds = [(first, min(n, first + chunk)) for first in range(0, n, chunk)]
    with multiprocessing.get_context().Pool(workers, _init_rows, (rows,)) as pool:
        partials = pool.map(_sum_range, bounds)
    totals = partials[0]
    for partial in partials[1:]:
        totals = [total + c for total, c in zip(totals, partial, strict=True)]
    aggregate_seconds = time.perf_counter() - start
    start = time.perf_counter()
    keys = [("q", o) for o in context.manifest.questions[0].option_ids]
    aggregate = dict(zip(keys, totals, strict=True))
    shares = {
        t: {
            key: compute_decryption_share(
                key_share=key_shares[t],
                ciphertext=c,
                election_hash=context.election_hash,
                label=tally_label(*key),
            )
            for key, c in aggregate.items()
        }
        for t in (1, 2)
    }
    counts = decrypt_tally(context=context, aggregate=aggregate, shares=shares)
    decrypt_seconds = time.perf_counter() - start
    print(
        f"aggregate {n} ballots x 5 options ({workers} processes): {aggregate_seconds:7.2f} s; "
        f"threshold decrypt (2 of 3, incl. BSGS table): {decrypt_seconds:6.2f} s; "
        f"counts {sorted(counts.values(), reverse=True)}"
    )


def bench_record(
    context: ElectionContext, key_shares: dict[int, KeyShare], n: int, workers: int
) -> None:
    start = time.perf_counter()
    with _pool(workers, context) as pool:
        ballots = pool.map(_make_ballot, range(n), chunksize=32)
    generate_seconds = time.perf_counter() - start
    board_public, board_secret = generate_signing_keypair()
    tree = MerkleTree()
    for ballot in ballots:
        tree.append(ballot.tracker)
    head = sign_tree_head(
        election_hash=context.election_hash,
        size=tree.size,
        root=tree.root(),
        timestamp=int(time.time()),
        secret_key=board_secret,
    )
    aggregate = aggregate_ballots(ballots, context.manifest)
    shares = {
        t: {
            key: compute_decryption_share(
                key_share=key_shares[t],
                ciphertext=c,
                election_hash=context.election_hash,
                label=tally_label(*key),
            )
            for key, c in aggregate.items()
        }
        for t in (1, 2)
    }
    counts = decrypt_tally(context=context, aggregate=aggregate, shares=shares)
    record = build_record(
        context=context,
        board_public_key=board_public,
        ballots=ballots,
        heads=[(head, None)],
        spoiled=[],
        aggregate=aggregate,
        shares=shares,
        counts=counts,
    )
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "record.zip"
        write_record(path, record)
        cpu_before = _cpu_seconds()
        start = time.perf_counter()
        report = verify_record(path, workers=workers)
        elapsed = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu_before
    status = "VERIFIED" if report.ok else "REJECTED"
    print(
        f"full record verification, {n} ballots ({workers} processes): {elapsed:7.2f} s "
        f"[{status}]  -> 1M ballots extrapolated: {elapsed / n * 1e6 / 60:6.1f} min "
        f"(generating the ballots took {generate_seconds:.1f} s)"
    )
    print(
        f"    CPU time {cpu / n * 1e3:.2f} ms per ballot -> 1M ballots on {workers} idle cores: "
        f"{cpu / n * 1e6 / workers / 60:.1f} min (load average now {os.getloadavg()[0]:.1f})"
    )


def _cpu_seconds() -> float:
    """User+system CPU of this process and its reaped children (the verifier's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=100_000, help="ballots to aggregate")
    parser.add_argument("--record", type=int, default=2_000, help="ballots in the record")
    parser.add_argument("--throughput", type=int, default=2_000, help="ballots to verify")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=30, help="samples per single-ballot figure")
    args = parser.parse_args(argv)
    print(f"protocol benchmark: {args.workers} processes, python {sys.version.split()[0]}")
    plurality = bench_ballot("1-of-5 (plurality)", manifest_for(5, 1, 1), args.repeat)
    bench_ballot("up-to-3-of-10", manifest_for(10, 0, 3), args.repeat)
    bench_ballot("exactly-3-of-10", manifest_for(10, 3, 3), args.repeat)
    bench_throughput(plurality, args.workers, args.throughput)
    context, key_shares = setup(manifest_for(5, 1, 1))
    bench_tally(context, key_shares, args.ballots, args.workers)
    bench_record(context, key_shares, args.record, args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
