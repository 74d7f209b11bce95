"""The ristretto255 group (RFC 9496) on the system libsodium.

`Scalar` and `Point` are small immutable values.  Points are kept as their canonical 32-byte
encoding: libsodium decodes and re-encodes on every operation anyway, and keeping the encoding
makes equality, hashing and serialisation free.  Scalars are kept as Python integers in [0, l).

libsodium's scalar multiplication refuses to output the identity (and hence refuses zero
scalars); this module handles those cases explicitly so callers never see the refusal.
libsodium is called through ctypes directly: pysodium's wrappers re-check the library version on
every call, which costs more than the addition itself.
"""

from __future__ import annotations

import ctypes
import functools
import hmac
import secrets
from typing import Any, Final

import pysodium

_sodium: Any = pysodium.sodium

#: The prime order l of the ristretto255 group.
ORDER: Final = 2**252 + 27742317777372353535851937790883648493
POINT_BYTES: Final = 32
SCALAR_BYTES: Final = 32

_IDENTITY_BYTES: Final = bytes(32)
_BASE_BYTES: Final = bytes.fromhex(
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"
)

_scalarmult = _sodium.crypto_scalarmult_ristretto255
_scalarmult_base = _sodium.crypto_scalarmult_ristretto255_base
_add = _sodium.crypto_core_ristretto255_add
_sub = _sodium.crypto_core_ristretto255_sub
_is_valid_point = _sodium.crypto_core_ristretto255_is_valid_point
_from_hash = _sodium.crypto_core_ristretto255_from_hash
_new_buffer = ctypes.create_string_buffer


class GroupError(ValueError):
    """An encoding is not canonical or not a group element, or an operation is undefined."""


class Scalar:
    """An integer modulo l.  Immutable; equality is constant time (scalars are often secret)."""

    __slots__ = ("value",)
    value: int

    def __init__(self, value: int) -> None:
        object.__setattr__(self, "value", value % ORDER)

    @classmethod
    def _trusted(cls, value: int) -> Scalar:
        """Build from a value already reduced mod l (internal fast path)."""
        scalar = object.__new__(cls)
        object.__setattr__(scalar, "value", value)
        return scalar

    @classmethod
    def from_bytes(cls, data: bytes) -> Scalar:
        """Decode a canonical 32-byte little-endian scalar; values >= l are rejected."""
        if len(data) != SCALAR_BYTES:
            raise GroupError("a scalar encoding is 32 bytes")
        value = int.from_bytes(data, "little")
        if value >= ORDER:
            raise GroupError("non-canonical scalar encoding")
        return cls._trusted(value)

    @classmethod
    def from_hex(cls, text: object) -> Scalar:
        return cls.from_bytes(_strict_hex(text, SCALAR_BYTES))

    @classmethod
    def from_uniform_bytes(cls, data: bytes) -> Scalar:
        """Reduce 64 uniformly random bytes (e.g. a SHA-512 digest) modulo l."""
        if len(data) != 64:
            raise GroupError("uniform scalar input is 64 bytes")
        return cls._trusted(int.from_bytes(data, "little") % ORDER)

    @classmethod
    def random(cls) -> Scalar:
        """A uniformly random non-zero scalar from the OS CSPRNG."""
        while True:
            value = int.from_bytes(secrets.token_bytes(64), "little") % ORDER
            if value:
                return cls._trusted(value)

    def to_bytes(self) -> bytes:
        return self.value.to_bytes(SCALAR_BYTES, "little")

    def hex(self) -> str:
        return self.to_bytes().hex()

    def is_zero(self) -> bool:
        return self.value == 0

    def inverse(self) -> Scalar:
        if self.value == 0:
            raise GroupError("zero has no inverse")
        return Scalar._trusted(pow(self.value, -1, ORDER))

    def __add__(self, other: Scalar) -> Scalar:
        return Scalar._trusted((self.value + other.value) % ORDER)

    def __sub__(self, other: Scalar) -> Scalar:
        return Scalar._trusted((self.value - other.value) % ORDER)

    def __mul__(self, other: Scalar) -> Scalar:
        return Scalar._trusted((self.value * other.value) % ORDER)

    def __neg__(self) -> Scalar:
        return Scalar._trusted((-self.value) % ORDER)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scalar):
            return NotImplemented
        return hmac.compare_digest(self.to_bytes(), other.to_bytes())

    def __hash__(self) -> int:
        return hash(("Scalar", self.value))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Scalar is immutable")

    def __reduce__(self) -> tuple[type[Scalar], tuple[int]]:
        return (Scalar, (self.value,))

    def __repr__(self) -> str:
        # Never print the value: scalars are frequently secret.
        return "Scalar(<redacted>)"


class Point:
    """An element of ristretto255, held as its canonical encoding.  Immutable."""

    __slots__ = ("encoding",)
    encoding: bytes

    def __init__(self, encoding: bytes) -> None:
        # libsodium 1.0.18 ignores the top bit when decoding, so check it here (RFC 9496
        # requires s < p, which a set bit 255 violates).
        if len(encoding) != POINT_BYTES or encoding[31] & 0x80 or not _is_valid_point(encoding):
            raise GroupError("not a canonical ristretto255 encoding")
        object.__setattr__(self, "encoding", bytes(encoding))

    @classmethod
    def _trusted(cls, encoding: bytes) -> Point:
        """Wrap an encoding produced by libsodium itself (internal fast path)."""
        point = object.__new__(cls)
        object.__setattr__(point, "encoding", encoding)
        return point

    @classmethod
    def from_bytes(cls, data: bytes) -> Point:
        return cls(data)

    @classmethod
    def from_hex(cls, text: object) -> Point:
        return cls(_strict_hex(text, POINT_BYTES))

    @classmethod
    def from_uniform_bytes(cls, data: bytes) -> Point:
        """Map 64 uniform bytes to the group (RFC 9496 one-way map)."""
        if len(data) != 64:
            raise GroupError("hash-to-group input is 64 bytes")
        out = _new_buffer(POINT_BYTES)
        _from_hash(out, data)
        return cls._trusted(out.raw)

    def to_bytes(self) -> bytes:
        return self.encoding

    def hex(self) -> str:
        return self.encoding.hex()

    def is_identity(self) -> bool:
        return self.encoding == _IDENTITY_BYTES

    def __add__(self, other: Point) -> Point:
        out = _new_buffer(POINT_BYTES)
        _add(out, self.encoding, other.encoding)
        return Point._trusted(out.raw)

    def __sub__(self, other: Point) -> Point:
        out = _new_buffer(POINT_BYTES)
        _sub(out, self.encoding, other.encoding)
        return Point._trusted(out.raw)

    def __neg__(self) -> Point:
        return IDENTITY - self

    def __mul__(self, scalar: Scalar) -> Point:
        value = scalar.value
        if value == 0 or self.encoding == _IDENTITY_BYTES:
            return IDENTITY
        out = _new_buffer(POINT_BYTES)
        if self.encoding == _BASE_BYTES:
            status = _scalarmult_base(out, value.to_bytes(SCALAR_BYTES, "little"))
        else:
            status = _scalarmult(out, value.to_bytes(SCALAR_BYTES, "little"), self.encoding)
        if status != 0:
            # Unreachable in a prime-order group with 0 < scalar < l and a non-identity point.
            raise GroupError("scalar multiplication failed")
        return Point._trusted(out.raw)

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Point):
            return NotImplemented
        # Encodings are canonical, so byte equality is group equality.
        return hmac.compare_digest(self.encoding, other.encoding)

    def __hash__(self) -> int:
        return hash(self.encoding)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Point is immutable")

    def __reduce__(self) -> tuple[type[Point], tuple[bytes]]:
        return (Point, (self.encoding,))

    def __repr__(self) -> str:
        return f"Point({self.encoding.hex()})"


IDENTITY: Final = Point._trusted(_IDENTITY_BYTES)
#: The RFC 9496 generator.
GENERATOR: Final = Point._trusted(_BASE_BYTES)


def base_mul(scalar: Scalar) -> Point:
    """scalar · G, using libsodium's fixed-base table (about three times faster)."""
    value = scalar.value
    if value == 0:
        return IDENTITY
    out = _new_buffer(POINT_BYTES)
    if _scalarmult_base(out, value.to_bytes(SCALAR_BYTES, "little")) != 0:
        raise GroupError("scalar multiplication failed")
    return Point._trusted(out.raw)


@functools.lru_cache(maxsize=1024)
def small_base_mul(value: int) -> Point:
    """value · G for a (possibly negative) integer, e.g. an encoded vote; small values cached."""
    return base_mul(Scalar(value))


def sum_points(points: list[Point] | tuple[Point, ...]) -> Point:
    total = IDENTITY
    for point in points:
        total = total + point
    return total


def _strict_hex(text: object, size: int) -> bytes:
    """Decode lowercase hex of exactly `size` bytes; any other spelling is non-canonical."""
    if not isinstance(text, str):
        raise GroupError("expected a hex string")
    if len(text) != 2 * size:
        raise GroupError(f"expected {2 * size} hex digits")
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise GroupError("invalid hex") from None
    if data.hex() != text:
        raise GroupError("hex must be lowercase")
    return data
