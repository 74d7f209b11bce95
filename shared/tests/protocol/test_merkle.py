"""The bulletin board's Merkle log: RFC 9162 trees, proofs and signed tree heads."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from securevote.crypto import merkle
from securevote.crypto.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    TreeHead,
    generate_signing_keypair,
    leaf_hash,
    node_hash,
    sign_tree_head,
    tree_head_message,
    verify_consistency,
    verify_inclusion,
    verify_tree_head,
)

# --------------------------------------------------------------------------- reference model
# A direct transcription of the recursive definitions of RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1,
# O(n) per call, used as the oracle for the incremental implementation.


def _k(n: int) -> int:
    k = 1
    while 2 * k < n:
        k *= 2
    return k


def ref_mth(hashes: list[bytes]) -> bytes:
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = _k(len(hashes))
    return node_hash(ref_mth(hashes[:k]), ref_mth(hashes[k:]))


def ref_path(m: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) == 1:
        return []
    k = _k(len(hashes))
    if m < k:
        return [*ref_path(m, hashes[:k]), ref_mth(hashes[k:])]
    return [*ref_path(m - k, hashes[k:]), ref_mth(hashes[:k])]


def ref_subproof(m: int, hashes: list[bytes], complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [ref_mth(hashes)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, hashes[:k], complete), ref_mth(hashes[k:])]
    return [*ref_subproof(m - k, hashes[k:], False), ref_mth(hashes[:k])]


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(b"ballot %d" % i) for i in range(n)]


def flip(value: bytes, bit: int = 0) -> bytes:
    return bytes([value[0] ^ (1 << bit)]) + value[1:]


MAX_INCLUSION = 70
MAX_CONSISTENCY = 40
LEAVES = leaves(MAX_INCLUSION)
TREE = MerkleTree(LEAVES)
ROOTS = [ref_mth(LEAVES[:n]) for n in range(MAX_INCLUSION + 1)]

# --------------------------------------------------------------------------- RFC 6962/9162 vectors
# The reference tree of the Certificate Transparency test suite: 8 leaves with these inputs.

CT_INPUTS = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
H_0_1 = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
H_2_4 = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
H_4_8 = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
H_4 = "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
H_6_8 = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
H_5 = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
CT_INCLUSION = [  # (leaf index, tree size, path)
    (0, 1, []),
    (0, 8, [H_0_1, H_2_4, H_4_8]),
    (5, 8, [H_4, H_6_8, CT_ROOTS[3]]),
    (2, 3, [CT_ROOTS[1]]),
    (1, 5, [CT_ROOTS[0], H_2_4, H_4]),
]
CT_CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, [H_0_1, H_2_4, H_4_8]),
    (6, 8, [H_5, H_6_8, CT_ROOTS[3]]),
    (2, 5, [H_2_4, H_4]),
]


def ct_tree() -> MerkleTree:
    tree = MerkleTree()
    for data in CT_INPUTS:
        tree.append(bytes.fromhex(data))
    return tree


def test_ct_roots() -> None:
    tree = ct_tree()
    hashes = [leaf_hash(bytes.fromhex(d)) for d in CT_INPUTS]
    for size, expected in enumerate(CT_ROOTS, start=1):
        assert tree.root(size).hex() == expected
        assert ref_mth(hashes[:size]).hex() == expected


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_inclusion(index: int, size: int, path: list[str]) -> None:
    tree = ct_tree()
    proof = tree.inclusion_proof(index, size)
    assert [p.hex() for p in proof] == path
    assert verify_inclusion(
        leaf_hash=tree.leaf(index), index=index, size=size, proof=proof, root=tree.root(size)
    )


@pytest.mark.parametrize(("old", "new", "path"), CT_CONSISTENCY)
def test_ct_consistency(old: int, new: int, path: list[str]) -> None:
    tree = ct_tree()
    proof = tree.consistency_proof(old, new)
    assert [p.hex() for p in proof] == path
    assert verify_consistency(
        old_size=old, new_size=new, old_root=tree.root(old), new_root=tree.root(new), proof=proof
    )


# --------------------------------------------------------------------------- hashing and roots


def test_hash_prefixes() -> None:
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert leaf_hash(b"a") == hashlib.sha256(b"\x00a").digest()
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert leaf_hash(left + right) != node_hash(left, right)
    with pytest.raises(ValueError):
        node_hash(left[:31], right)
    with pytest.raises(ValueError):
        node_hash(left, right + b"\x00")


def test_empty_tree() -> None:
    tree = MerkleTree()
    assert tree.size == len(tree) == 0
    assert tree.root() == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert tree.consistency_proof(0) == []
    with pytest.raises(ValueError):
        tree.inclusion_proof(0)


def test_roots_of_every_size_bulk_and_incremental() -> None:
    incremental = MerkleTree()
    for size in range(MAX_INCLUSION + 1):
        assert incremental.size == size
        assert incremental.root() == ROOTS[size]
        assert TREE.root(size) == ROOTS[size]
        assert MerkleTree(LEAVES[:size]).root() == ROOTS[size]
        if size < MAX_INCLUSION:
            assert incremental.append_hash(LEAVES[size]) == size
    assert incremental._levels == TREE._levels


def test_append_data_equals_append_hash() -> None:
    tree = MerkleTree()
    assert tree.append(b"ballot 0") == 0
    assert tree.append(b"ballot 1") == 1
    assert tree.leaf(1) == LEAVES[1]
    assert tree.root() == ROOTS[2]


@pytest.mark.parametrize(
    "bad", [b"", b"\x00" * 31, b"\x00" * 33, "00" * 32, None, 7], ids=lambda b: repr(b)[:12]
)
def test_bad_leaf_hashes_rejected(bad: object) -> None:
    with pytest.raises(ValueError):
        MerkleTree([LEAVES[0], bad])  # type: ignore[list-item]
    tree = MerkleTree(LEAVES[:3])
    with pytest.raises(ValueError):
        tree.append_hash(bad)  # type: ignore[arg-type]
    assert tree.root() == ROOTS[3]


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.root(11),
        lambda t: t.root(-1),
        lambda t: t.root(True),
        lambda t: t.inclusion_proof(10),
        lambda t: t.inclusion_proof(-1),
        lambda t: t.inclusion_proof(3, 3),
        lambda t: t.inclusion_proof(0, 11),
        lambda t: t.consistency_proof(5, 4),
        lambda t: t.consistency_proof(-1),
        lambda t: t.consistency_proof(3, 11),
        lambda t: t.leaf(10),
    ],
)
def test_generation_rejects_bad_arguments(call: object) -> None:
    with pytest.raises(ValueError):
        call(MerkleTree(LEAVES[:10]))  # type: ignore[operator]


# --------------------------------------------------------------------------- inclusion


def all_leaves() -> Iterator[tuple[int, int]]:
    for size in range(1, MAX_INCLUSION + 1):
        for index in range(size):
            yield index, size


def inclusion_ok(index: int, size: int, proof: list[bytes], root: bytes | None = None) -> bool:
    return verify_inclusion(
        leaf_hash=LEAVES[index],
        index=index,
        size=size,
        proof=proof,
        root=ROOTS[size] if root is None else root,
    )


def test_inclusion_every_leaf_of_every_size() -> None:
    for index, size in all_leaves():
        proof = TREE.inclusion_proof(index, size)
        assert proof == ref_path(index, LEAVES[:size])
        assert inclusion_ok(index, size, proof)


def test_inclusion_tampering_fails() -> None:
    junk = leaf_hash(b"junk")
    for index, size in all_leaves():
        proof = TREE.inclusion_proof(index, size)
        for i in range(len(proof)):
            for bit in (0, 7):
                tampered = [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]]
                assert not inclusion_ok(index, size, tampered)
            assert not inclusion_ok(index, size, proof[:i] + proof[i + 1 :])
            if proof[i] != junk:
                assert not inclusion_ok(index, size, [*proof[:i], junk, *proof[i + 1 :]])
        for extra in (junk, ROOTS[size]):
            assert not inclusion_ok(index, size, [*proof, extra])
            assert not inclusion_ok(index, size, [extra, *proof])
        assert not inclusion_ok(index, size, proof, root=flip(ROOTS[size]))
        assert not verify_inclusion(
            leaf_hash=flip(LEAVES[index]), index=index, size=size, proof=proof, root=ROOTS[size]
        )


def test_inclusion_wrong_index_or_size_fails() -> None:
    """Any other (index, size) claim fails, when checked against the root of the claimed size.

    (Size and root are bound together by the signed tree head, not by the proof: a proof can
    be valid for two sizes with identical path shapes, but only one root matches.)
    """
    for index, size in all_leaves():
        proof = TREE.inclusion_proof(index, size)
        for other in range(size):
            if other != index:
                assert not verify_inclusion(
                    leaf_hash=LEAVES[index], index=other, size=size, proof=proof, root=ROOTS[size]
                )
        for other_size in {size - 1, size + 1, 2 * size} - {size}:
            if index < other_size <= MAX_INCLUSION and proof != TREE.inclusion_proof(
                index, other_size
            ):
                assert not inclusion_ok(index, other_size, proof)


# --------------------------------------------------------------------------- consistency


def size_pairs() -> Iterator[tuple[int, int]]:
    for new in range(MAX_CONSISTENCY + 1):
        for old in range(new + 1):
            yield old, new


def consistency_ok(old: int, new: int, proof: list[bytes], old_root: bytes | None = None) -> bool:
    return verify_consistency(
        old_size=old,
        new_size=new,
        old_root=ROOTS[old] if old_root is None else old_root,
        new_root=ROOTS[new],
        proof=proof,
    )


def test_consistency_between_any_two_sizes() -> None:
    for old, new in size_pairs():
        proof = TREE.consistency_proof(old, new)
        expected = [] if old in (0, new) else ref_subproof(old, LEAVES[:new], True)
        assert proof == expected
        assert consistency_ok(old, new, proof)


def test_consistency_tampering_fails() -> None:
    junk = leaf_hash(b"junk")
    for old, new in size_pairs():
        proof = TREE.consistency_proof(old, new)
        for i in range(len(proof)):
            tampered = [*proof[:i], flip(proof[i]), *proof[i + 1 :]]
            assert not consistency_ok(old, new, tampered)
            assert not consistency_ok(old, new, proof[:i] + proof[i + 1 :])
        for extra in (junk, ROOTS[old], ROOTS[new]):
            assert not consistency_ok(old, new, [*proof, extra])
            assert not consistency_ok(old, new, [extra, *proof])
        assert not consistency_ok(old, new, proof, old_root=flip(ROOTS[old]))
        if old > 0 or new == 0:  # (the empty tree precedes every tree, whatever its root)
            assert not verify_consistency(
                old_size=old,
                new_size=new,
                old_root=ROOTS[old],
                new_root=flip(ROOTS[new]),
                proof=proof,
            )
        if old not in (0, new):  # a rewritten history: leaf 0 replaced in both trees
            forged = MerkleTree([junk, *LEAVES[1:new]])
            assert not verify_consistency(
                old_size=old, new_size=new, old_root=ROOTS[old], new_root=forged.root(), proof=proof
            )


def test_consistency_wrong_sizes_fail() -> None:
    for old, new in size_pairs():
        proof = TREE.consistency_proof(old, new)
        for other_old in {old - 1, old + 1} - {old}:
            if 0 <= other_old <= new and proof != TREE.consistency_proof(other_old, new):
                assert not verify_consistency(
                    old_size=other_old,
                    new_size=new,
                    old_root=ROOTS[other_old],
                    new_root=ROOTS[new],
                    proof=proof,
                ), (old, new, other_old)
        for other_new in {new - 1, new + 1} - {new}:
            if old <= other_new <= MAX_CONSISTENCY and proof != TREE.consistency_proof(
                old, other_new
            ):
                assert not verify_consistency(
                    old_size=old,
                    new_size=other_new,
                    old_root=ROOTS[old],
                    new_root=ROOTS[other_new],
                    proof=proof,
                ), (old, new, other_new)
        if old < new:  # swapped roots
            assert not verify_consistency(
                old_size=old, new_size=new, old_root=ROOTS[new], new_root=ROOTS[old], proof=proof
            )


def test_consistency_trivial_cases() -> None:
    root = ROOTS[5]
    assert verify_consistency(old_size=5, new_size=5, old_root=root, new_root=root, proof=[])
    assert not verify_consistency(
        old_size=5, new_size=5, old_root=root, new_root=root, proof=[root]
    )
    assert not verify_consistency(
        old_size=5, new_size=5, old_root=root, new_root=ROOTS[4], proof=[]
    )
    assert verify_consistency(old_size=0, new_size=5, old_root=EMPTY_ROOT, new_root=root, proof=[])
    assert verify_consistency(
        old_size=0, new_size=0, old_root=EMPTY_ROOT, new_root=EMPTY_ROOT, proof=[]
    )
    assert not verify_consistency(
        old_size=0, new_size=0, old_root=EMPTY_ROOT, new_root=root, proof=[]
    )
    assert not verify_consistency(old_size=0, new_size=0, old_root=root, new_root=root, proof=[])
    assert not verify_consistency(old_size=0, new_size=5, old_root=root, new_root=root, proof=[])
    assert not verify_consistency(
        old_size=0, new_size=5, old_root=EMPTY_ROOT, new_root=root, proof=[root]
    )
    assert not verify_consistency(
        old_size=3, new_size=5, old_root=ROOTS[3], new_root=root, proof=[]
    )


# --------------------------------------------------------------------------- malformed input

JUNK_VALUES = [
    None,
    True,
    -1,
    2**64,
    1.5,
    "x",
    b"",
    b"\x00" * 31,
    b"\x00" * 33,
    "00" * 32,
    [b"\x00" * 31],
    [None],
    ["00" * 32],
    object(),
]


@pytest.mark.parametrize("junk", JUNK_VALUES, ids=lambda j: repr(j)[:16])
@pytest.mark.parametrize("field", ["leaf_hash", "index", "size", "proof", "root"])
def test_verify_inclusion_never_raises(field: str, junk: object) -> None:
    args: dict[str, object] = {
        "leaf_hash": LEAVES[2],
        "index": 2,
        "size": 7,
        "proof": TREE.inclusion_proof(2, 7),
        "root": ROOTS[7],
    }
    assert verify_inclusion(**args)  # type: ignore[arg-type]
    args[field] = junk
    assert verify_inclusion(**args) is False  # type: ignore[arg-type]


@pytest.mark.parametrize("junk", JUNK_VALUES, ids=lambda j: repr(j)[:16])
@pytest.mark.parametrize("field", ["old_size", "new_size", "old_root", "new_root", "proof"])
def test_verify_consistency_never_raises(field: str, junk: object) -> None:
    args: dict[str, object] = {
        "old_size": 3,
        "new_size": 7,
        "old_root": ROOTS[3],
        "new_root": ROOTS[7],
        "proof": TREE.consistency_proof(3, 7),
    }
    assert verify_consistency(**args)  # type: ignore[arg-type]
    args[field] = junk
    assert verify_consistency(**args) is False  # type: ignore[arg-type]


def test_verify_inclusion_out_of_range() -> None:
    proof = TREE.inclusion_proof(0, 1)
    assert not inclusion_ok(0, 0, proof, root=EMPTY_ROOT)
    assert not verify_inclusion(leaf_hash=LEAVES[1], index=1, size=1, proof=[], root=LEAVES[1])
    assert not verify_inclusion(leaf_hash=LEAVES[0], index=0, size=-1, proof=[], root=LEAVES[0])


def test_verify_consistency_sizes_out_of_order() -> None:
    proof = TREE.consistency_proof(3, 7)
    assert not verify_consistency(
        old_size=7, new_size=3, old_root=ROOTS[7], new_root=ROOTS[3], proof=proof
    )
    assert not verify_consistency(
        old_size=-1, new_size=3, old_root=EMPTY_ROOT, new_root=ROOTS[3], proof=[]
    )


# --------------------------------------------------------------------------- properties

BIG = 3000
BIG_LEAVES = leaves(BIG)
BIG_TREE = MerkleTree(BIG_LEAVES)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_property_inclusion_in_large_trees(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, BIG))
    index = data.draw(st.integers(0, size - 1))
    root = BIG_TREE.root(size)
    assert root == ref_mth(BIG_LEAVES[:size])
    proof = BIG_TREE.inclusion_proof(index, size)
    assert proof == ref_path(index, BIG_LEAVES[:size])
    assert verify_inclusion(
        leaf_hash=BIG_LEAVES[index], index=index, size=size, proof=proof, root=root
    )
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 7))
        proof[i] = flip(proof[i], bit)
        assert not verify_inclusion(
            leaf_hash=BIG_LEAVES[index], index=index, size=size, proof=proof, root=root
        )


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_property_consistency_in_large_trees(data: st.DataObject) -> None:
    new = data.draw(st.integers(1, BIG))
    old = data.draw(st.integers(1, new))
    old_root, new_root = BIG_TREE.root(old), BIG_TREE.root(new)
    proof = BIG_TREE.consistency_proof(old, new)
    if old < new:
        assert proof == ref_subproof(old, BIG_LEAVES[:new], True)
    assert verify_consistency(
        old_size=old, new_size=new, old_root=old_root, new_root=new_root, proof=proof
    )
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        proof[i] = flip(proof[i], data.draw(st.integers(0, 7)))
        assert not verify_consistency(
            old_size=old, new_size=new, old_root=old_root, new_root=new_root, proof=proof
        )


@settings(max_examples=50, deadline=None)
@given(
    first=st.lists(st.binary(max_size=8), max_size=40),
    second=st.lists(st.binary(max_size=8), max_size=40),
)
def test_property_growing_tree_stays_consistent(first: list[bytes], second: list[bytes]) -> None:
    tree = MerkleTree()
    for item in first:
        tree.append(item)
    old_size, old_root = tree.size, tree.root()
    for item in second:
        tree.append(item)
    hashes = [leaf_hash(item) for item in first + second]
    assert tree.root() == ref_mth(hashes) == MerkleTree(hashes).root()
    assert tree.root(old_size) == old_root
    assert verify_consistency(
        old_size=old_size,
        new_size=tree.size,
        old_root=old_root,
        new_root=tree.root(),
        proof=tree.consistency_proof(old_size),
    )


@settings(max_examples=200, deadline=None)
@given(
    leaf=st.binary(min_size=32, max_size=32),
    index=st.integers(0, 100),
    size=st.integers(0, 100),
    proof=st.lists(st.binary(min_size=32, max_size=32), max_size=8),
    root=st.binary(min_size=32, max_size=32),
)
def test_property_random_inclusion_proofs_fail(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    assert not verify_inclusion(leaf_hash=leaf, index=index, size=size, proof=proof, root=root)


# --------------------------------------------------------------------------- efficiency


def test_hash_counts_are_logarithmic(monkeypatch: pytest.MonkeyPatch) -> None:
    """Roots and proofs of any size cost O(log n) hashes; appends amortised O(1)."""
    calls = 0
    real = merkle._hash_pair

    def counting(pair: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return real(pair)

    size = 2**16 + 2**9 + 2**3 + 1  # 4 complete subtrees at the right edge
    tree = MerkleTree(leaf_hash(i.to_bytes(4, "big")) for i in range(size))
    monkeypatch.setattr(merkle, "_hash_pair", counting)
    for operation in (
        lambda: tree.root(),
        lambda: tree.root(size - 12345),
        lambda: tree.inclusion_proof(0),
        lambda: tree.inclusion_proof(size - 1),
        lambda: tree.inclusion_proof(size // 2, size - 3),
        lambda: tree.consistency_proof(1),
        lambda: tree.consistency_proof(size - 1),
        lambda: tree.consistency_proof(12345, size - 7),
    ):
        calls = 0
        operation()
        assert calls <= 2 * size.bit_length(), calls
    calls = 0
    for i in range(1000):
        tree.append(b"%d" % i)
    assert calls <= 1000 + size.bit_length()


# --------------------------------------------------------------------------- signed tree heads

SEED = bytes(range(32))
PUBLIC_KEY, SECRET_KEY = generate_signing_keypair(SEED)
ELECTION = hashlib.sha256(b"an election").digest()


def signed_head() -> TreeHead:
    return sign_tree_head(
        election_hash=ELECTION,
        size=7,
        root=ROOTS[7],
        timestamp=1_780_000_000,
        secret_key=SECRET_KEY,
    )


def test_tree_head_message_layout() -> None:
    message = tree_head_message(election_hash=ELECTION, size=7, root=ROOTS[7], timestamp=42)
    assert message == (
        b"securevote/v1/tree-head" + ELECTION + struct.pack(">Q", 7) + ROOTS[7] + (42).to_bytes(8)
    )
    assert len(message) == 23 + 32 + 8 + 32 + 8


def test_signed_head_verifies() -> None:
    head = signed_head()
    assert verify_tree_head(head, PUBLIC_KEY)
    assert head.message() == tree_head_message(
        election_hash=ELECTION, size=7, root=ROOTS[7], timestamp=1_780_000_000
    )


@pytest.mark.parametrize(
    "change",
    [
        {"election_hash": flip(ELECTION)},
        {"size": 6},
        {"size": 8},
        {"root": ROOTS[6]},
        {"root": flip(ROOTS[7], 7)},
        {"timestamp": 1_780_000_001},
        {"timestamp": 0},
        {"signature": b"\x00" * 64},
    ],
    ids=lambda c: next(iter(c)),
)
def test_any_field_change_fails(change: dict[str, object]) -> None:
    head = dataclasses.replace(signed_head(), **change)  # type: ignore[arg-type]
    assert not verify_tree_head(head, PUBLIC_KEY)


def test_every_signature_bit_matters() -> None:
    head = signed_head()
    for byte in range(64):
        sig = bytearray(head.signature)
        sig[byte] ^= 0x01
        forged = TreeHead(head.election_hash, head.size, head.root, head.timestamp, bytes(sig))
        assert not verify_tree_head(forged, PUBLIC_KEY)


def test_wrong_key_fails() -> None:
    other_public, _ = generate_signing_keypair(bytes(32))
    random_public, random_secret = generate_signing_keypair()
    assert len(random_secret) == 64
    assert not verify_tree_head(signed_head(), other_public)
    assert not verify_tree_head(signed_head(), random_public)


@pytest.mark.parametrize(
    "head",
    [
        TreeHead(ELECTION[:31], 7, ROOTS[7], 0, bytes(64)),
        TreeHead(ELECTION, -1, ROOTS[7], 0, bytes(64)),
        TreeHead(ELECTION, 2**64, ROOTS[7], 0, bytes(64)),
        TreeHead(ELECTION, 7, ROOTS[7] + b"\x00", 0, bytes(64)),
        TreeHead(ELECTION, 7, ROOTS[7], -5, bytes(64)),
        TreeHead(ELECTION, 7, ROOTS[7], 0, bytes(63)),
        TreeHead("e" * 32, 7, ROOTS[7], 0, bytes(64)),  # type: ignore[arg-type]
        TreeHead(ELECTION, 7.0, ROOTS[7], 0, bytes(64)),  # type: ignore[arg-type]
        TreeHead(ELECTION, 7, ROOTS[7], 0, None),  # type: ignore[arg-type]
        "not a head",
        None,
    ],
)
def test_malformed_heads_fail(head: TreeHead) -> None:
    assert verify_tree_head(head, PUBLIC_KEY) is False


@pytest.mark.parametrize("key", [b"", PUBLIC_KEY[:31], PUBLIC_KEY + b"\x00", None, "k" * 32])
def test_malformed_public_keys_fail(key: bytes) -> None:
    assert verify_tree_head(signed_head(), key) is False


def test_signing_rejects_bad_input() -> None:
    good = {"election_hash": ELECTION, "size": 7, "root": ROOTS[7], "timestamp": 1}
    with pytest.raises(ValueError):
        sign_tree_head(**good, secret_key=SEED)  # type: ignore[arg-type]
    mismatched = SECRET_KEY[:32] + generate_signing_keypair(bytes(32))[0]
    with pytest.raises(ValueError):
        sign_tree_head(**good, secret_key=mismatched)  # type: ignore[arg-type]
    for field, bad in [("election_hash", b"x"), ("size", -1), ("root", None), ("timestamp", True)]:
        with pytest.raises(ValueError):
            sign_tree_head(**{**good, field: bad}, secret_key=SECRET_KEY)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        generate_signing_keypair(b"short")


def test_json_round_trip() -> None:
    head = signed_head()
    obj = head.to_json()
    assert set(obj) == {"election_hash", "size", "root", "timestamp", "signature"}
    assert obj["root"] == ROOTS[7].hex()
    assert TreeHead.from_json(obj) == head
    assert TreeHead.from_json(json.dumps(obj)) == head
    assert verify_tree_head(TreeHead.from_json(json.dumps(obj).encode()), PUBLIC_KEY)


@pytest.mark.parametrize(
    "change",
    [
        {"root": ROOTS[7].hex().upper()},
        {"root": ROOTS[7].hex()[:-2]},
        {"root": " " + ROOTS[7].hex()[1:]},
        {"signature": "00" * 63},
        {"election_hash": None},
        {"size": True},
        {"size": 7.0},
        {"size": "7"},
        {"size": -1},
        {"timestamp": 2**53},
        {"extra": 1},
    ],
    ids=lambda c: repr(c)[:24],
)
def test_json_rejects_malformed(change: dict[str, object]) -> None:
    obj = {**signed_head().to_json(), **change}
    with pytest.raises(ValueError):
        TreeHead.from_json(obj)


@pytest.mark.parametrize(
    "head",
    [
        TreeHead(ELECTION, 7, ROOTS[7], 0, bytes(63)),
        TreeHead(ELECTION, 7, ROOTS[7], 0, None),  # type: ignore[arg-type]
        TreeHead(ELECTION, 2**53, ROOTS[7], 0, bytes(64)),
        TreeHead(ELECTION, 7, ROOTS[7][:16], 0, bytes(64)),
    ],
)
def test_to_json_rejects_malformed(head: TreeHead) -> None:
    with pytest.raises(ValueError):
        head.to_json()


def test_json_rejects_missing_key_and_non_objects() -> None:
    obj = signed_head().to_json()
    del obj["timestamp"]
    for bad in (obj, "[]", "null", b"{}"):
        with pytest.raises(ValueError):
            TreeHead.from_json(bad)
