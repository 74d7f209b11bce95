"""Framed hashing, canonical JSON, exponential ElGamal."""

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from securevote.crypto.elgamal import (
    Ciphertext,
    add_all,
    decrypt,
    decrypt_to_point,
    discrete_log,
    encrypt,
)
from securevote.crypto.group import ORDER, GroupError, Scalar, base_mul, small_base_mul
from securevote.crypto.hashing import canonical_json, encode_part, hash256, hash512, hash_to_scalar

SECRET = Scalar(123456789)
KEY = base_mul(SECRET)
nonces = st.integers(min_value=1, max_value=ORDER - 1).map(Scalar)


def test_framing_is_injective() -> None:
    assert hash512("t", b"ab", b"c") != hash512("t", b"a", b"bc")
    assert hash512("t", b"abc") != hash512("t", b"ab", b"c")
    assert hash512("t1", b"x") != hash512("t", b"1x")
    assert hash256("t", "x") == hash256("t", b"x")
    assert len(hash256("t")) == 32 and len(hash512("t")) == 64


def test_parts_encoding() -> None:
    assert encode_part(1) == bytes(7) + b"\x01"
    assert encode_part(Scalar(1)) == b"\x01" + bytes(31)
    with pytest.raises(ValueError):
        encode_part(-1)
    with pytest.raises(TypeError):
        encode_part(True)


def test_hash_to_scalar_is_reduced() -> None:
    value = hash_to_scalar("t", b"x").value
    assert 0 <= value < ORDER
    digest = hash512("t", b"x")
    assert value == int.from_bytes(digest, "little") % ORDER


def test_canonical_json_rfc8785() -> None:
    assert canonical_json({"b": 1, "a": [1.0, "é"]}) == '{"a":[1,"é"],"b":1}'.encode()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_canonical_json_fast_path_writes_exactly_rfc8785(document: object) -> None:
    """The json-module fast path and the rfc8785 library agree wherever both accept a value."""
    try:
        expected = rfc8785.dumps(document)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        return
    assert canonical_json(document) == expected


def test_canonical_json_edge_cases() -> None:
    for document in [
        {"\u00e9": 1, "z": 2, "\U0001f600": 3, "\ufb01": 4},  # key order by UTF-16 code units
        [2**53, -(2**53), 2**53 - 1, 1e21, 0.1, -0.0],
        {"s": '\u0000\u001f\u007f\u2028"\\/\n\t\b\f\r'},
    ]:
        try:
            expected = rfc8785.dumps(document)
        except rfc8785.CanonicalizationError:
            continue
        assert canonical_json(document) == expected


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), nonces)
def test_round_trip(message: int, nonce: Scalar) -> None:
    ciphertext = encrypt(message=message, public_key=KEY, nonce=nonce)
    assert decrypt(ciphertext, SECRET) == message
    assert Ciphertext.from_json(ciphertext.to_json()) == ciphertext


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=50), nonces), max_size=6))
def test_homomorphic_sum(items: list[tuple[int, Scalar]]) -> None:
    ciphertexts = [encrypt(message=m, public_key=KEY, nonce=r) for m, r in items]
    assert decrypt(add_all(ciphertexts), SECRET) == sum(m for m, _ in items)
    if len(ciphertexts) >= 2:
        pair = ciphertexts[0] + ciphertexts[1]
        assert decrypt_to_point(pair, SECRET) == small_base_mul(items[0][0] + items[1][0])


def test_zero_nonce_refused() -> None:
    with pytest.raises(GroupError):
        encrypt(message=1, public_key=KEY, nonce=Scalar(0))


def test_discrete_log_large_and_bounds() -> None:
    assert discrete_log(small_base_mul(10_000_000)) == 10_000_000
    assert discrete_log(small_base_mul(0)) == 0
    with pytest.raises(ValueError):
        discrete_log(small_base_mul(100), bound=50)
    with pytest.raises(ValueError):
        discrete_log(small_base_mul(-1), bound=1000)


def test_ciphertext_json_is_strict() -> None:
    document = encrypt(message=1, public_key=KEY, nonce=Scalar(5)).to_json()
    with pytest.raises(GroupError):
        Ciphertext.from_json({**document, "extra": "x"})
    with pytest.raises(GroupError):
        Ciphertext.from_json({"pad": document["pad"].upper(), "data": document["data"]})
    with pytest.raises(GroupError):
        Ciphertext.from_json({"pad": 5, "data": document["data"]})
