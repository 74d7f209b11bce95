"""The bulletin board's append-only Merkle log (RFC 9162 §2.1) and its signed tree heads.

The tree, the Merkle Tree Hash (MTH), inclusion proofs and consistency proofs follow RFC 9162
(Certificate Transparency v2) exactly, with SHA-256 and the one-byte leaf/node prefixes, so any
CT-compatible verifier can check the board. Signed tree heads are secure-vote's own: Ed25519 over
a fixed-width, domain-separated encoding (see docs/protocol.md, "Bulletin board").

Conventions beyond RFC 9162, which only defines consistency proofs for 0 < m < n: the proof
between a tree and itself, and between the empty tree and any tree, is the empty list.

Generation raises ``ValueError`` on bad arguments; verification never raises and returns False
on any malformed input.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pysodium

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1)."""

TREE_HEAD_TAG = b"securevote/v1/tree-head"
"""Domain-separation tag that starts every signed tree head message."""

MAX_JSON_INT = 2**53 - 1
"""Largest tree size or timestamp: beyond it RFC 8785 JSON and JavaScript lose precision."""

PUBLIC_KEY_SIZE = pysodium.crypto_sign_PUBLICKEYBYTES
SECRET_KEY_SIZE = pysodium.crypto_sign_SECRETKEYBYTES
SEED_SIZE = pysodium.crypto_sign_SEEDBYTES
SIGNATURE_SIZE = pysodium.crypto_sign_BYTES

_sha256 = hashlib.sha256


# --------------------------------------------------------------------------- hashing


def leaf_hash(data: bytes) -> bytes:
    """Hash of a leaf: SHA-256(0x00 || data)."""
    return _sha256(LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 || left || right)."""
    _require_hash(left, "left")
    _require_hash(right, "right")
    return _sha256(NODE_PREFIX + bytes(left) + bytes(right)).digest()


def _hash_pair(pair: bytes) -> bytes:
    """``node_hash`` of two concatenated hashes, unchecked, for the tree's hot paths."""
    return _sha256(NODE_PREFIX + pair).digest()


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


def _require_hash(value: object, name: str) -> None:
    if not _is_hash(value):
        raise ValueError(f"{name} must be {HASH_SIZE} bytes")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2): RFC 9162's split point k."""
    return 1 << ((n - 1).bit_length() - 1)


# --------------------------------------------------------------------------- the tree


class MerkleTree:
    """An append-only RFC 9162 Merkle tree that keeps every complete subtree hash.

    ``_levels[h]`` holds, concatenated, the hashes of the complete subtrees of 2**h leaves
    that exist so far, in order: entry i covers leaves [i * 2**h, (i + 1) * 2**h). A subtree
    complete in the current tree is complete in every larger one and in no smaller one, so
    any earlier tree size can be served from the same arrays. Appending adds one leaf and
    amortised one node; the MTH of any range the RFC recursion produces is the fold of at most
    log2(n) stored subtrees, so roots and proofs take O(log n) hashes. Memory: 2n hashes.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        level = bytearray()
        for index, value in enumerate(leaf_hashes):
            _require_hash(value, f"leaf hash {index}")
            level += value
        self._levels: list[bytearray] = [level]
        self._build_levels()

    def _build_levels(self) -> None:
        """Compute all the complete-subtree hashes above the leaves in one pass per level."""
        pair_size = 2 * HASH_SIZE
        level = bytes(self._levels[0])
        while len(level) >= pair_size:
            end = len(level) - len(level) % pair_size
            level = b"".join(
                [_hash_pair(level[i : i + pair_size]) for i in range(0, end, pair_size)]
            )
            self._levels.append(bytearray(level))

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0]) // HASH_SIZE

    def __len__(self) -> int:
        return self.size

    def append(self, data: bytes) -> int:
        """Append a leaf with the given data; return its index."""
        return self.append_hash(leaf_hash(data))

    def append_hash(self, leaf_hash: bytes) -> int:
        """Append a leaf given its leaf hash; return its index."""
        _require_hash(leaf_hash, "leaf_hash")
        index = self.size
        self._levels[0] += leaf_hash
        height, position = 0, index
        while position & 1:  # the new subtree is a right child: its parent is now complete
            parent = _hash_pair(bytes(self._levels[height][-2 * HASH_SIZE :]))
            height += 1
            position >>= 1
            if height == len(self._levels):
                self._levels.append(bytearray())
            self._levels[height] += parent
        return index

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        if not _is_int(index) or not 0 <= index < self.size:
            raise ValueError(f"leaf index {index!r} out of range for size {self.size}")
        return self._subtree(0, index)

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all of them)."""
        return self._range_hash(0, self._check_size(size, "size"))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, ordered from the leaf upwards."""
        size = self._check_size(size, "size")
        if not _is_int(index) or not 0 <= index < size:
            raise ValueError(f"leaf index {index!r} out of range for size {size}")
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            middle = start + _split(end - start)
            if index < middle:
                proof.append(self._range_hash(middle, end))
                end = middle
            else:
                proof.append(self._range_hash(start, middle))
                start = middle
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) of RFC 9162 §2.1.4.1; [] if old_size in (0, new_size)."""
        new_size = self._check_size(new_size, "new_size")
        if not _is_int(old_size) or not 0 <= old_size <= new_size:
            raise ValueError(f"old_size {old_size!r} out of range for new_size {new_size}")
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        start, end = 0, new_size
        old_is_whole_subtree = True  # the RFC's flag b
        while old_size - start != end - start:
            middle = start + _split(end - start)
            if old_size <= middle:
                proof.append(self._range_hash(middle, end))
                end = middle
            else:
                proof.append(self._range_hash(start, middle))
                start = middle
                old_is_whole_subtree = False
        if not old_is_whole_subtree:
            proof.append(self._range_hash(start, end))
        proof.reverse()
        return proof

    def _check_size(self, size: int | None, name: str) -> int:
        if size is None:
            return self.size
        if not _is_int(size) or not 0 <= size <= self.size:
            raise ValueError(f"{name} {size!r} out of range for a tree of {self.size} leaves")
        return size

    def _subtree(self, height: int, index: int) -> bytes:
        offset = index * HASH_SIZE
        return bytes(self._levels[height][offset : offset + HASH_SIZE])

    def _range_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range produced by the RFC 9162 recursion.

        Such a range starts at a multiple of the smallest power of two >= its length, so it
        splits into complete stored subtrees of decreasing size (the binary digits of its
        length), and its MTH is their right-to-left fold.
        """
        if start == end:
            return EMPTY_ROOT
        parts: list[bytes] = []
        while start < end:
            height = (end - start).bit_length() - 1
            assert start % (1 << height) == 0, "range not aligned to a subtree"
            parts.append(self._subtree(height, start >> height))
            start += 1 << height
        result = parts.pop()
        while parts:
            result = _hash_pair(parts.pop() + result)
        return result


# --------------------------------------------------------------------------- verification


def _valid_proof(proof: object) -> bool:
    return isinstance(proof, Sequence) and all(_is_hash(p) for p in proof)


def _hash_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(bytes(a), bytes(b))


def verify_inclusion(
    *, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an inclusion proof with the algorithm of RFC 9162 §2.1.3.2."""
    if not (_is_hash(leaf_hash) and _is_hash(root) and _valid_proof(proof)):
        return False
    if not (_is_int(index) and _is_int(size) and 0 <= index < size):
        return False
    fn, sn = index, size - 1
    result = bytes(leaf_hash)
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = _hash_pair(bytes(sibling) + result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = _hash_pair(result + bytes(sibling))
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and _hash_equal(result, root)


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check a consistency proof with the algorithm of RFC 9162 §2.1.4.2.

    Also accepts the two trivial cases the RFC leaves out, each only with an empty proof:
    equal sizes with equal roots, and an old tree that is empty (its root must be EMPTY_ROOT).
    """
    if not (_is_hash(old_root) and _is_hash(new_root) and _valid_proof(proof)):
        return False
    if not (_is_int(old_size) and _is_int(new_size) and 0 <= old_size <= new_size):
        return False
    if old_size in (0, new_size):
        return len(proof) == 0 and _trivially_consistent(old_size, new_size, old_root, new_root)
    return _verify_proper_consistency(old_size, new_size, old_root, new_root, proof)


def _trivially_consistent(old_size: int, new_size: int, old_root: bytes, new_root: bytes) -> bool:
    """The empty tree precedes every tree; a tree of the same size must have the same root."""
    if old_size == 0 and not _hash_equal(old_root, EMPTY_ROOT):
        return False
    return old_size != new_size or _hash_equal(old_root, new_root)


def _verify_proper_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2 steps 1-7, for 0 < old_size < new_size."""
    if len(proof) == 0:
        return False
    path = [bytes(p) for p in proof]
    if old_size & (old_size - 1) == 0:  # a power of two: the old tree is itself a subtree
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old_result = new_result = path[0]
    for sibling in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            old_result = _hash_pair(sibling + old_result)
            new_result = _hash_pair(sibling + new_result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            new_result = _hash_pair(new_result + sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and _hash_equal(old_result, old_root) and _hash_equal(new_result, new_root)


# --------------------------------------------------------------------------- signed tree heads

_HEX_HASH = re.compile(r"[0-9a-f]{64}")
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{128}")
_TREE_HEAD_FIELDS = frozenset({"election_hash", "size", "root", "timestamp", "signature"})


@dataclass(frozen=True)
class TreeHead:
    """A signed statement by the board: "election E's log had ``size`` leaves and this root".

    JSON form (``to_json``/``from_json``): an object with exactly the keys ``election_hash``,
    ``root``, ``signature`` (lowercase hex strings of 32, 32 and 64 bytes) and ``size``,
    ``timestamp`` (integers in [0, 2**53 - 1]; the timestamp is in Unix seconds).
    The dataclass itself does not validate; ``verify_tree_head`` and ``from_json`` do.
    """

    election_hash: bytes
    size: int
    root: bytes
    timestamp: int
    signature: bytes

    def message(self) -> bytes:
        """The bytes the signature covers (raises ValueError if a field is malformed)."""
        return tree_head_message(
            election_hash=self.election_hash,
            size=self.size,
            root=self.root,
            timestamp=self.timestamp,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object for this head (raises ValueError if a field is malformed)."""
        self.message()
        if (
            not isinstance(self.signature, bytes | bytearray)
            or len(self.signature) != SIGNATURE_SIZE
        ):
            raise ValueError(f"signature must be {SIGNATURE_SIZE} bytes")
        return {
            "election_hash": bytes(self.election_hash).hex(),
            "size": self.size,
            "root": bytes(self.root).hex(),
            "timestamp": self.timestamp,
            "signature": bytes(self.signature).hex(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes) -> TreeHead:
        """Parse the JSON object (or its text); raise ValueError unless exactly well formed."""
        obj = json.loads(data) if isinstance(data, str | bytes) else data
        if not isinstance(obj, Mapping) or set(obj) != _TREE_HEAD_FIELDS:
            raise ValueError(f"a tree head has exactly the keys {sorted(_TREE_HEAD_FIELDS)}")
        return cls(
            election_hash=_parse_hex(obj["election_hash"], _HEX_HASH, "election_hash"),
            size=_parse_int(obj["size"], "size"),
            root=_parse_hex(obj["root"], _HEX_HASH, "root"),
            timestamp=_parse_int(obj["timestamp"], "timestamp"),
            signature=_parse_hex(obj["signature"], _HEX_SIGNATURE, "signature"),
        )


def _parse_hex(value: object, pattern: re.Pattern[str], name: str) -> bytes:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{name} must be a lowercase hex string matching {pattern.pattern}")
    return bytes.fromhex(value)


def _parse_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_JSON_INT:
        raise ValueError(f"{name} must be an integer in [0, 2**53 - 1]")
    return value


def tree_head_message(*, election_hash: bytes, size: int, root: bytes, timestamp: int) -> bytes:
    """TREE_HEAD_TAG || election_hash (32) || u64be(size) || root (32) || u64be(timestamp).

    Every field has a fixed width, so the 103-byte encoding is unambiguous.
    """
    _require_hash(election_hash, "election_hash")
    _require_hash(root, "root")
    _parse_int(size, "size")
    _parse_int(timestamp, "timestamp")
    return (
        TREE_HEAD_TAG
        + bytes(election_hash)
        + struct.pack(">Q", size)
        + bytes(root)
        + struct.pack(">Q", timestamp)
    )


def generate_signing_keypair(seed: bytes | None = None) -> tuple[bytes, bytes]:
    """A new Ed25519 key pair ``(public_key, secret_key)``, from a 32-byte seed if given.

    The secret key is libsodium's 64-byte form (seed || public key).
    """
    if seed is None:
        public_key, secret_key = pysodium.crypto_sign_keypair()
    else:
        if not isinstance(seed, bytes | bytearray) or len(seed) != SEED_SIZE:
            raise ValueError(f"seed must be {SEED_SIZE} bytes")
        public_key, secret_key = pysodium.crypto_sign_seed_keypair(bytes(seed))
    return bytes(public_key), bytes(secret_key)


def _check_secret_key(secret_key: bytes) -> None:
    """Reject a 64-byte secret key whose public half does not belong to its seed.

    libsodium signs with the public key stored in the secret key; a mismatched one would
    produce invalid signatures and, for some inputs, can leak the signing key.
    """
    if not isinstance(secret_key, bytes | bytearray) or len(secret_key) != SECRET_KEY_SIZE:
        raise ValueError(f"secret_key must be libsodium's {SECRET_KEY_SIZE}-byte Ed25519 key")
    _, expected = pysodium.crypto_sign_seed_keypair(bytes(secret_key[:SEED_SIZE]))
    if not hmac.compare_digest(bytes(expected), bytes(secret_key)):
        raise ValueError("secret_key is inconsistent (public half does not match the seed)")


def sign_tree_head(
    *, election_hash: bytes, size: int, root: bytes, timestamp: int, secret_key: bytes
) -> TreeHead:
    """Sign a tree head with the board's Ed25519 key (64-byte libsodium secret key)."""
    message = tree_head_message(
        election_hash=election_hash, size=size, root=root, timestamp=timestamp
    )
    _check_secret_key(secret_key)
    signature = pysodium.crypto_sign_detached(message, bytes(secret_key))
    return TreeHead(
        election_hash=bytes(election_hash),
        size=size,
        root=bytes(root),
        timestamp=timestamp,
        signature=bytes(signature),
    )


def verify_tree_head(head: TreeHead, public_key: bytes) -> bool:
    """True iff ``head`` is well formed and its signature verifies under ``public_key``."""
    if not isinstance(head, TreeHead):
        return False
    if not isinstance(public_key, bytes | bytearray) or len(public_key) != PUBLIC_KEY_SIZE:
        return False
    signature = head.signature
    if not isinstance(signature, bytes | bytearray) or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        message = head.message()
        pysodium.crypto_sign_verify_detached(bytes(signature), message, bytes(public_key))
    except ValueError:
        return False
    return True
