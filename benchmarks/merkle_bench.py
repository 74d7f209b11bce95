"""Benchmark of the bulletin board's Merkle log (prints figures; asserts nothing about time).

Usage: uv run python benchmarks/merkle_bench.py [LEAVES]   (default 1,000,000)
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from securevote.crypto.merkle import (
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

T = TypeVar("T")
QUERIES = 1000


def timed(label: str, action: Callable[[], T], count: int = 1) -> T:
    start = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - start
    per = f"  ({elapsed / count * 1e6:8.1f} µs each)" if count > 1 else ""
    print(f"{label:<44} {elapsed * 1000:10.3f} ms{per}")
    return result


def prove_and_verify_inclusion(tree: MerkleTree, rng: random.Random) -> None:
    queries = []
    for _ in range(QUERIES):
        size = rng.randint(1, tree.size)
        queries.append((rng.randrange(size), size))
    proofs = timed(
        f"{QUERIES} inclusion proofs (random sizes)",
        lambda: [tree.inclusion_proof(i, n) for i, n in queries],
        QUERIES,
    )
    roots = {n: tree.root(n) for _, n in queries}
    ok = timed(
        f"verify {QUERIES} inclusion proofs",
        lambda: all(
            verify_inclusion(leaf_hash=tree.leaf(i), index=i, size=n, proof=p, root=roots[n])
            for (i, n), p in zip(queries, proofs, strict=True)
        ),
        QUERIES,
    )
    print(f"{'  all verified':<44} {ok}")


def prove_and_verify_consistency(tree: MerkleTree, rng: random.Random) -> None:
    pairs = []
    for _ in range(QUERIES):
        new = rng.randint(1, tree.size)
        pairs.append((rng.randint(1, new), new))
    proofs = timed(
        f"{QUERIES} consistency proofs (random sizes)",
        lambda: [tree.consistency_proof(m, n) for m, n in pairs],
        QUERIES,
    )
    roots = {n: tree.root(n) for pair in pairs for n in pair}
    ok = timed(
        f"verify {QUERIES} consistency proofs",
        lambda: all(
            verify_consistency(
                old_size=m, new_size=n, old_root=roots[m], new_root=roots[n], proof=p
            )
            for (m, n), p in zip(pairs, proofs, strict=True)
        ),
        QUERIES,
    )
    print(f"{'  all verified':<44} {ok}")


def main(count: int) -> None:
    rng = random.Random(2026)  # noqa: S311 -- reproducible query positions, not secrets
    print(f"Merkle log benchmark, {count:,} leaves")
    hashes = timed(
        f"hash {count:,} leaves (SHA-256)",
        lambda: [leaf_hash(b"tracker %d" % i) for i in range(count)],
        count,
    )
    tree = timed("build tree from leaf hashes (bulk)", lambda: MerkleTree(hashes))
    incremental = MerkleTree()
    timed(
        f"append_hash {count:,} leaves one by one",
        lambda: [incremental.append_hash(h) for h in hashes],
        count,
    )
    root = timed("root of the whole tree", tree.root)
    print(f"{'  root':<44} {root.hex()}")
    print(f"{'  bulk and incremental roots equal':<44} {incremental.root() == root}")
    sizes = [rng.randint(0, count) for _ in range(QUERIES)]
    timed(f"{QUERIES} roots of earlier sizes", lambda: [tree.root(n) for n in sizes], QUERIES)
    prove_and_verify_inclusion(tree, rng)
    prove_and_verify_consistency(tree, rng)
    print(f"{'stored hashes (approx. memory)':<44} {2 * count * 32 / 2**20:8.1f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
