"""Domain-separated, length-prefixed hashing and canonical JSON (docs/protocol.md §2).

Every hash input is framed as: ``u32be(len(tag)) ‖ tag ‖ (u32be(len(part)) ‖ part)*`` where the tag
is an ASCII string naming the purpose (e.g. ``securevote/v1/proof/selection``).  Length prefixes
make the framing injective, so no two different input lists collide by concatenation.

Parts are byte strings; `Point`, `Scalar`, `str` (UTF-8) and non-negative `int` (u64 big-endian)
are converted by `encode_part`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from securevote.crypto.group import Point, Scalar

HashPart = bytes | str | int | Point | Scalar


def encode_part(part: HashPart) -> bytes:
    if isinstance(part, bytes):
        return part
    if isinstance(part, Point):
        return part.encoding
    if isinstance(part, Scalar):
        return part.to_bytes()
    if isinstance(part, str):
        return part.encode("utf-8")
    if isinstance(part, int) and not isinstance(part, bool):
        if not 0 <= part < 2**64:
            raise ValueError("integers hashed as u64")
        return part.to_bytes(8, "big")
    raise TypeError(f"cannot hash a {type(part).__name__}")


def _frame(hasher: Any, tag: str, parts: tuple[HashPart, ...]) -> None:
    tag_bytes = tag.encode("ascii")
    hasher.update(len(tag_bytes).to_bytes(4, "big"))
    hasher.update(tag_bytes)
    for part in parts:
        data = encode_part(part)
        hasher.update(len(data).to_bytes(4, "big"))
        hasher.update(data)


def hash512(tag: str, *parts: HashPart) -> bytes:
    """SHA-512 of the framed input (64 bytes)."""
    hasher = hashlib.sha512()
    _frame(hasher, tag, parts)
    return hasher.digest()


def hash256(tag: str, *parts: HashPart) -> bytes:
    """SHA-256 of the framed input (32 bytes): election hash, tracker, ceremony hash."""
    hasher = hashlib.sha256()
    _frame(hasher, tag, parts)
    return hasher.digest()


def hash_to_scalar(tag: str, *parts: HashPart) -> Scalar:
    """SHA-512 of the framed input, read little-endian and reduced modulo l (challenges)."""
    return Scalar.from_uniform_bytes(hash512(tag, *parts))


def hash_to_point(tag: str, *parts: HashPart) -> Point:
    """RFC 9496 hash-to-group of the SHA-512 of the framed input (no known discrete log)."""
    return Point.from_uniform_bytes(hash512(tag, *parts))


def canonical_json(document: Any) -> bytes:
    """RFC 8785 (JCS) canonical serialisation of a JSON-compatible value."""
    result: bytes = rfc8785.dumps(document)
    return result
