"""Voter tokens: 256 bits from the CSPRNG, never repeated, and only a keyed hash is stored."""

from __future__ import annotations

import base64
from collections import Counter

from auth_service.identity import new_voter_token, voter_token_hash


def test_tokens_carry_256_bits_and_never_repeat() -> None:
    tokens = [new_voter_token() for _ in range(20_000)]
    assert len(set(tokens)) == len(tokens)
    raw = [base64.urlsafe_b64decode(token + "=") for token in tokens]
    assert {len(value) for value in raw} == {32}
    # Every bit position is set in about half of the tokens (a broken generator, a constant
    # byte or a truncated encoding would show as a bit stuck near 0 or 1).
    ones = Counter(
        position
        for value in raw
        for position in range(256)
        if value[position // 8] >> (position % 8) & 1
    )
    assert all(0.45 < ones[position] / len(raw) < 0.55 for position in range(256))


def test_the_stored_hash_is_keyed_and_reveals_nothing_of_the_token() -> None:
    token = new_voter_token()
    stored = voter_token_hash(b"k" * 32, token)
    assert stored != voter_token_hash(b"j" * 32, token)
    assert stored == voter_token_hash(b"k" * 32, token)
    assert token not in stored and len(stored) == 64
