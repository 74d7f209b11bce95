"""Exponential ElGamal on ristretto255: Enc(m; r) = (r·G, m·G + r·K).

The message sits in the exponent, so ciphertexts add homomorphically and decryption yields m·G;
the small integer m is then recovered by baby-step giant-step (`discrete_log`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from securevote.crypto.group import (
    GENERATOR,
    IDENTITY,
    GroupError,
    Point,
    Scalar,
    base_mul,
    small_base_mul,
)
from securevote.crypto.native import Accumulator

#: Default upper bound for `discrete_log`: comfortably above 10 million voters.
DEFAULT_DLOG_BOUND = 1 << 24


@dataclass(frozen=True, slots=True)
class Ciphertext:
    """An ElGamal ciphertext: ``pad = r·G`` and ``data = m·G + r·K``."""

    pad: Point
    data: Point

    def __add__(self, other: Ciphertext) -> Ciphertext:
        return Ciphertext(self.pad + other.pad, self.data + other.data)

    def to_json(self) -> dict[str, str]:
        return {"pad": self.pad.hex(), "data": self.data.hex()}

    @classmethod
    def from_json(cls, document: object) -> Ciphertext:
        if not isinstance(document, dict) or set(document) != {"pad", "data"}:
            raise GroupError("a ciphertext is an object with 'pad' and 'data'")
        return cls(Point.from_hex(document["pad"]), Point.from_hex(document["data"]))


ZERO_CIPHERTEXT = Ciphertext(IDENTITY, IDENTITY)


def encrypt(*, message: int, public_key: Point, nonce: Scalar) -> Ciphertext:
    """Encrypt the small integer `message` under `public_key` with randomness `nonce`."""
    if nonce.is_zero():
        raise GroupError("the encryption nonce must be non-zero")
    return Ciphertext(base_mul(nonce), small_base_mul(message) + public_key * nonce)


def add_all(ciphertexts: Iterable[Ciphertext]) -> Ciphertext:
    """Homomorphic sum (encrypts the sum of the messages); public values, so summed natively."""
    pad, data = Accumulator(), Accumulator()
    for ciphertext in ciphertexts:
        pad.add(ciphertext.pad.encoding)
        data.add(ciphertext.data.encoding)
    return Ciphertext(pad.point(), data.point())


def decrypt_to_point(ciphertext: Ciphertext, secret_key: Scalar) -> Point:
    """m·G = data - s·pad."""
    return ciphertext.data - ciphertext.pad * secret_key


def decrypt(ciphertext: Ciphertext, secret_key: Scalar, *, bound: int = DEFAULT_DLOG_BOUND) -> int:
    return discrete_log(decrypt_to_point(ciphertext, secret_key), bound=bound)


@functools.lru_cache(maxsize=4)
def _baby_steps(step_count: int) -> tuple[dict[bytes, int], Point]:
    """Table {encoding of j·G: j} for 0 <= j < step_count, and the giant step -step_count·G."""
    table: dict[bytes, int] = {}
    point = IDENTITY
    for j in range(step_count):
        table[point.encoding] = j
        point = point + GENERATOR
    return table, IDENTITY - point


def discrete_log(point: Point, *, bound: int = DEFAULT_DLOG_BOUND) -> int:
    """The m in [0, bound) with m·G == point, by baby-step giant-step.

    The baby-step table (√bound entries) is built once per bound and cached.  Raises
    ValueError if no such m exists (e.g. a wrong decryption).
    """
    step_count = max(1, math.isqrt(bound - 1) + 1)
    table, giant = _baby_steps(step_count)
    current = point
    for giant_index in range(step_count + 1):
        found = table.get(current.encoding)
        if found is not None:
            value = giant_index * step_count + found
            if value < bound:
                return value
            break
        current = current + giant
    raise ValueError("discrete logarithm not found below the bound")
