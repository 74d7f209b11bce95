"""docs/vectors/merkle.json: the implementation reproduces it exactly, and it verifies.

Regenerate (only on a deliberate protocol change):
    uv run python shared/tests/protocol/test_merkle_vectors.py --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from securevote.crypto.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    TreeHead,
    generate_signing_keypair,
    leaf_hash,
    sign_tree_head,
    verify_consistency,
    verify_inclusion,
    verify_tree_head,
)

VECTORS = Path(__file__).resolve().parents[3] / "docs" / "vectors" / "merkle.json"

# The first seven inputs of the Certificate Transparency reference tree (RFC 6962 test suite),
# so the roots can also be checked against CT implementations.
LEAF_DATA = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
]
SEED = bytes(range(32))
ELECTION_HASH = hashlib.sha256(b"securevote test vector election").digest()
TIMESTAMP = 1_767_225_600  # 2026-01-01T00:00:00Z


def build_vectors() -> dict[str, Any]:
    tree = MerkleTree()
    for data in LEAF_DATA:
        tree.append(bytes.fromhex(data))
    size = tree.size
    return {
        "description": "secure-vote bulletin board Merkle log (RFC 9162 trees, Ed25519 heads)",
        "encoding": "byte strings are lowercase hex; sizes, indices, timestamps are integers",
        "empty_root": EMPTY_ROOT.hex(),
        "leaves": [
            {"index": i, "data": data, "leaf_hash": tree.leaf(i).hex()}
            for i, data in enumerate(LEAF_DATA)
        ],
        "roots": [{"size": n, "root": tree.root(n).hex()} for n in range(size + 1)],
        "inclusion_proofs": [
            {"index": i, "size": n, "proof": _hex(tree.inclusion_proof(i, n))}
            for n in range(1, size + 1)
            for i in range(n)
        ],
        "consistency_proofs": [
            {"old_size": m, "new_size": n, "proof": _hex(tree.consistency_proof(m, n))}
            for n in range(size + 1)
            for m in range(n + 1)
        ],
        "tree_head": _tree_head_vector(tree),
    }


def _hex(values: list[bytes]) -> list[str]:
    return [v.hex() for v in values]


def _tree_head_vector(tree: MerkleTree) -> dict[str, Any]:
    public_key, secret_key = generate_signing_keypair(SEED)
    head = sign_tree_head(
        election_hash=ELECTION_HASH,
        size=tree.size,
        root=tree.root(),
        timestamp=TIMESTAMP,
        secret_key=secret_key,
    )
    return {
        "seed": SEED.hex(),
        "public_key": public_key.hex(),
        "message": head.message().hex(),
        "head": head.to_json(),
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=2) + "\n"


def test_vectors_file_is_reproduced_exactly() -> None:
    assert VECTORS.read_text(encoding="utf-8") == render(build_vectors())


def test_vectors_verify_from_the_file_alone() -> None:
    """Check the file as an independent verifier would, from its contents only."""
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    hashes = [bytes.fromhex(leaf["leaf_hash"]) for leaf in vectors["leaves"]]
    for leaf, value in zip(vectors["leaves"], hashes, strict=True):
        assert leaf_hash(bytes.fromhex(leaf["data"])) == value
    roots = {r["size"]: bytes.fromhex(r["root"]) for r in vectors["roots"]}
    assert roots[0].hex() == vectors["empty_root"]
    assert len(vectors["inclusion_proofs"]) == 7 * 8 // 2
    for v in vectors["inclusion_proofs"]:
        assert verify_inclusion(
            leaf_hash=hashes[v["index"]],
            index=v["index"],
            size=v["size"],
            proof=[bytes.fromhex(p) for p in v["proof"]],
            root=roots[v["size"]],
        )
    assert len(vectors["consistency_proofs"]) == 8 * 9 // 2
    for v in vectors["consistency_proofs"]:
        assert verify_consistency(
            old_size=v["old_size"],
            new_size=v["new_size"],
            old_root=roots[v["old_size"]],
            new_root=roots[v["new_size"]],
            proof=[bytes.fromhex(p) for p in v["proof"]],
        )
    head_vector = vectors["tree_head"]
    head = TreeHead.from_json(head_vector["head"])
    assert head.message().hex() == head_vector["message"]
    assert head.root == roots[head.size]
    assert verify_tree_head(head, bytes.fromhex(head_vector["public_key"]))


def test_roots_agree_with_certificate_transparency() -> None:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    roots = {r["size"]: r["root"] for r in vectors["roots"]}
    assert roots[7] == "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"
    assert roots[4] == "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    VECTORS.parent.mkdir(parents=True, exist_ok=True)
    VECTORS.write_text(render(build_vectors()), encoding="utf-8")
    print(f"wrote {VECTORS}")
