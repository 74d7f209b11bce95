"""Domain-separated, length-prefixed hashing and canonical JSON (docs/protocol.md §2).

Every hash input is framed as: ``u32be(len(tag)) ‖ tag ‖ (u32be(len(part)) ‖ part)*`` where the tag
is an ASCII string naming the purpose (e.g. ``securevote/v1/proof/selection``).  Length prefixes
make the framing injective, so no two different input lists collide by concatenation.

Parts are byte strings; `Point`, `Scalar`, `str` (UTF-8) and non-negative `int` (u64 big-endian)
are converted by `encode_part`.
"""

from __future__ import annotations

import hashlib
import json
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
    """RFC 8785 (JCS) canonical serialisation of a JSON-compatible value.

    For documents of strings, ASCII keys, booleans, null and integers of at most 53 bits (every
    ballot, receipt and record file) Python's own encoder with sorted keys and no whitespace
    writes exactly the JCS bytes, several times faster: the two differ only on floats, on
    integers a double cannot hold, and on key order outside ASCII, all sent to rfc8785.
    """
    if _plain(document):
        text = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return text.encode()
    result: bytes = rfc8785.dumps(document)
    return result


_SAFE_INTEGER = 2**53


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_SAFE_INTEGER < value < _SAFE_INTEGER)
    if kind is list:
        return all(_plain(item) for item in value)
    if kind is dict:
        return all(type(key) is str and key.isascii() and _plain(v) for key, v in value.items())
    return False
