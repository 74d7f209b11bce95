"""Variable-time ristretto255 arithmetic on public values (native/ristretto255_vartime.c).

Verifying a proof and summing a tally only ever touch public values, so they may run in
variable time, which libsodium (used for everything that involves a secret) does not offer:

* `linear_combinations` computes several sums of multiples of the same few points with a
  Straus multi-scalar multiplication, decoding each point once;
* `Accumulator` adds millions of encoded points without re-encoding in between.

Both reject invalid or non-canonical encodings exactly as `Point` does. The library is compiled
when the package is built (shared/hatch_build.py); docs/adr/0011-native-vartime-arithmetic.md
says why it exists and what it may be used for.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from securevote.crypto.group import ORDER, POINT_BYTES, SCALAR_BYTES, GroupError, Point, Scalar

_LIBRARY: Final = Path(__file__).with_name("_ristretto255_vartime.so")


def _load() -> Any:
    try:
        library = ctypes.CDLL(str(_LIBRARY))
    except OSError as error:
        raise ImportError(
            f"{_LIBRARY.name} is missing or unloadable: reinstall secure-vote with a C compiler"
            " present (`uv sync` builds it)"
        ) from error
    library.sv_lincombs.argtypes = [
        ctypes.c_size_t,
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_char_p,
        ctypes.c_char_p,
    ]
    library.sv_lincombs.restype = ctypes.c_int
    library.sv_accumulator_size.restype = ctypes.c_size_t
    library.sv_accumulator_add.restype = ctypes.c_int
    return library


_lib: Final = _load()
_ACCUMULATOR_BYTES: Final[int] = _lib.sv_accumulator_size()
#: the library's limit on distinct points in one call
MAX_POINTS: Final = 8


def linear_combinations(
    points: Sequence[Point], rows: Sequence[Sequence[Scalar | int]]
) -> list[Point]:
    """For each row of coefficients, the point sum(coefficient_k * points[k]).

    Coefficients may be Scalars or integers (reduced mod l here, so negative ones are fine).
    """
    count = len(points)
    if count > MAX_POINTS:
        raise ValueError(f"at most {MAX_POINTS} points per call")
    coefficients = bytearray()
    for row in rows:
        if len(row) != count:
            raise ValueError("each row has one coefficient per point")
        for coefficient in row:
            value = coefficient.value if isinstance(coefficient, Scalar) else coefficient % ORDER
            coefficients += value.to_bytes(SCALAR_BYTES, "little")
    out = ctypes.create_string_buffer(POINT_BYTES * len(rows))
    encodings = b"".join(point.encoding for point in points)
    status = _lib.sv_lincombs(count, encodings, len(rows), bytes(coefficients), out)
    if status != 0:  # unreachable: Points are valid and coefficients reduced
        raise GroupError(f"linear combination failed ({status})")
    raw = out.raw
    return [Point._trusted(raw[i : i + POINT_BYTES]) for i in range(0, len(raw), POINT_BYTES)]


class Accumulator:
    """A running sum of points given as encodings (for example, one tally component)."""

    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state = ctypes.create_string_buffer(_ACCUMULATOR_BYTES)
        _lib.sv_accumulator_zero(self._state)

    def add(self, encoding: bytes) -> None:
        """Add one point; an invalid or non-canonical encoding raises and changes nothing."""
        if len(encoding) != POINT_BYTES or _lib.sv_accumulator_add(self._state, encoding) != 0:
            raise GroupError("not a canonical ristretto255 encoding")

    def add_accumulator(self, other: Accumulator) -> None:
        self.add(other.encoding())

    def encoding(self) -> bytes:
        out = ctypes.create_string_buffer(POINT_BYTES)
        _lib.sv_accumulator_encode(self._state, out)
        return out.raw

    def point(self) -> Point:
        return Point._trusted(self.encoding())
