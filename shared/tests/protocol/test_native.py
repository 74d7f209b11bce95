"""The variable-time native arithmetic agrees with libsodium on every input (docs/adr/0011)."""

import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from securevote.crypto.group import (
    GENERATOR,
    IDENTITY,
    ORDER,
    GroupError,
    Point,
    Scalar,
    base_mul,
    sum_points,
)
from securevote.crypto.hashing import hash_to_point
from securevote.crypto.native import MAX_POINTS, Accumulator, linear_combinations

from .test_group import GENERATOR_MULTIPLES, INVALID_ENCODINGS

scalars = st.integers(min_value=0, max_value=ORDER - 1)
#: scalars where the width-w non-adjacent forms carry furthest (runs of ones, the top of [0, l))
EDGE_SCALARS = [0, 1, 2, 15, 16, 127, 128, 255, 2**252 - 1, 2**252, ORDER - 2, ORDER - 1]


def _random_point() -> Point:
    return base_mul(Scalar.random())


def _reference(points: list[Point], row: list[int]) -> Point:
    return sum_points([point * Scalar(value) for point, value in zip(points, row, strict=True)])


@pytest.mark.parametrize("multiple", range(16))
def test_generator_multiples_match_rfc_9496(multiple: int) -> None:
    (point,) = linear_combinations([GENERATOR], [[multiple]])
    assert point.hex() == GENERATOR_MULTIPLES[multiple]
    other = Point.from_hex(GENERATOR_MULTIPLES[1])  # the generator, passed as "any point"
    accumulator = Accumulator()
    for _ in range(multiple):
        accumulator.add(other.to_bytes())
    assert accumulator.point().hex() == GENERATOR_MULTIPLES[multiple]


@settings(max_examples=60, deadline=None)
@given(st.lists(scalars, min_size=1, max_size=5), st.booleans())
def test_linear_combination_equals_libsodium(values: list[int], with_generator: bool) -> None:
    points = [_random_point() for _ in values]
    if with_generator:
        points[0] = GENERATOR
    (combined,) = linear_combinations(points, [values])
    assert combined == _reference(points, values)


def test_edge_scalars_on_the_generator_and_other_points() -> None:
    point = _random_point()
    for value in EDGE_SCALARS:
        rows = [[value, 0], [0, value], [value, value], [value, -value]]
        results = linear_combinations([GENERATOR, point], rows)
        expected = [_reference([GENERATOR, point], row) for row in rows]
        assert results == expected, value
    assert linear_combinations([point], [[ORDER - 1]])[0] == -point


def test_many_rows_share_points_and_accept_negative_coefficients() -> None:
    points = [GENERATOR, *(_random_point() for _ in range(MAX_POINTS - 1))]
    rows = [[secrets.randbelow(3 * ORDER) - ORDER for _ in points] for _ in range(4)]
    assert linear_combinations(points, rows) == [_reference(points, row) for row in rows]
    with pytest.raises(ValueError, match="at most"):
        linear_combinations([*points, GENERATOR], [[1] * (MAX_POINTS + 1)])
    with pytest.raises(ValueError, match="one coefficient per point"):
        linear_combinations(points, [[1]])


def test_identity_and_hashed_points() -> None:
    hashed = hash_to_point("test/native", b"x")
    assert linear_combinations([IDENTITY, hashed], [[5, 0]]) == [IDENTITY]
    assert linear_combinations([hashed], [[0]]) == [IDENTITY]
    assert linear_combinations([hashed, hashed], [[3, -3]]) == [IDENTITY]


def test_accumulator_sums_like_libsodium() -> None:
    points = [_random_point() for _ in range(300)] + [IDENTITY, GENERATOR]
    accumulator = Accumulator()
    for point in points:
        accumulator.add(point.to_bytes())
    assert accumulator.point() == sum_points(points)
    other = Accumulator()
    other.add(GENERATOR.to_bytes())
    accumulator.add_accumulator(other)
    assert accumulator.point() == sum_points(points) + GENERATOR
    assert Accumulator().point() == IDENTITY


@pytest.mark.parametrize("encoding", INVALID_ENCODINGS)
def test_accumulator_rejects_what_point_rejects(encoding: str) -> None:
    accumulator = Accumulator()
    accumulator.add(GENERATOR.to_bytes())
    with pytest.raises(GroupError):
        accumulator.add(bytes.fromhex(encoding))
    assert accumulator.point() == GENERATOR  # unchanged


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_accumulator_accepts_exactly_the_canonical_encodings(data: bytes) -> None:
    try:
        expected: Point | None = Point(data)
    except GroupError:
        expected = None
    accumulator = Accumulator()
    if expected is None:
        with pytest.raises(GroupError):
            accumulator.add(data)
    else:
        accumulator.add(data)
        assert accumulator.point() == expected


def test_top_bit_and_wrong_length_rejected() -> None:
    encoding = _random_point().to_bytes()
    accumulator = Accumulator()
    with pytest.raises(GroupError):
        accumulator.add(encoding[:31] + bytes([encoding[31] | 0x80]))
    with pytest.raises(GroupError):
        accumulator.add(encoding[:31])
