"""The pieces without a database: TOTP against RFC 6238, its sealed storage, rate limits,
password hashing, input normalisation."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlparse

import pytest

from auth_service import totp
from auth_service.identity import comparison_key, normalise
from auth_service.passwords import Passwords
from auth_service.policy import TEST_ARGON2, AuthPolicy
from auth_service.ratelimit import SlidingWindowLimiter, retry_after_header
from securevote.config import Settings

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("unix_time", "code"),
    [  # RFC 6238 appendix B, SHA-1, last six of the eight digits
        (59, "287082"),
        (1111111109, "081804"),
        (1111111111, "050471"),
        (1234567890, "005924"),
        (2000000000, "279037"),
        (20000000000, "353130"),
    ],
)
def test_totp_matches_the_rfc_6238_vectors(unix_time: int, code: str) -> None:
    assert totp.code_for_step(RFC_SECRET, totp.step_at(unix_time)) == code


def test_a_code_is_accepted_one_step_either_side_and_only_after_the_last_step() -> None:
    now = 1_700_000_000.0
    step = totp.step_at(now)
    for offset in (-1, 0, 1):
        code = totp.code_for_step(RFC_SECRET, step + offset)
        assert totp.matching_step(RFC_SECRET, code, now=now, last_step=None) == step + offset
    assert (
        totp.matching_step(
            RFC_SECRET, totp.code_for_step(RFC_SECRET, step + 2), now=now, last_step=None
        )
        is None
    )
    current = totp.code_for_step(RFC_SECRET, step)
    assert totp.matching_step(RFC_SECRET, current, now=now, last_step=step) is None


def test_the_sealed_secret_opens_only_for_its_account_and_key() -> None:
    secret = totp.new_secret()
    sealed = totp.seal(secret, account_id="a1", server_secret=b"k" * 32)
    assert secret not in sealed
    assert totp.unseal(sealed, account_id="a1", server_secret=b"k" * 32) == secret
    with pytest.raises(ValueError):
        totp.unseal(sealed, account_id="a2", server_secret=b"k" * 32)
    with pytest.raises(ValueError):
        totp.unseal(sealed, account_id="a1", server_secret=b"x" * 32)


def test_the_provisioning_uri_is_what_authenticator_apps_read() -> None:
    uri = urlparse(totp.provisioning_uri(RFC_SECRET, account="ada@example.org", issuer="sv"))
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/sv:ada@example.org")
    query = parse_qs(uri.query)
    assert query["secret"] == [RFC_SECRET]
    assert query["issuer"] == ["sv"]
    assert query["digits"] == ["6"] and query["period"] == ["30"]


def test_the_sliding_window_counts_recent_events_only() -> None:
    now = [1000.0]
    limiter = SlidingWindowLimiter(limit=2, window_seconds=10, clock=lambda: now[0])
    assert limiter.hit("a") is None
    now[0] += 4
    assert limiter.hit("a") is None
    assert limiter.hit("a") == pytest.approx(6)  # the first event leaves the window in 6 s
    assert limiter.hit("b") is None  # other keys are independent
    now[0] += 6
    assert limiter.hit("a") is None
    assert retry_after_header(0.2) == "1" and retry_after_header(6.01) == "7"


def test_the_limiter_keeps_a_bounded_number_of_keys() -> None:
    limiter = SlidingWindowLimiter(limit=1, window_seconds=60, max_keys=3)
    for key in "abcd":
        limiter.hit(key)
    assert limiter.blocked_for("a") is None  # forgotten: the oldest key was dropped
    assert limiter.blocked_for("d") is not None


async def test_passwords_verify_and_the_dummy_hash_never_matches() -> None:
    passwords = Passwords(TEST_ARGON2)
    stored = await passwords.hash("s3cret password")
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert await passwords.verify(stored, "s3cret password")
    assert not await passwords.verify(stored, "s3cret passworD")
    assert not await passwords.verify(None, "s3cret password")
    assert not await passwords.verify("not a hash", "s3cret password")
    assert not passwords.needs_rehash(stored)
    assert Passwords(AuthPolicy().argon2).needs_rehash(stored)


def test_modest_argon2_parameters_only_in_test_mode() -> None:
    assert AuthPolicy.for_settings(Settings(mode="test", test_mode=True)).argon2 == TEST_ARGON2
    assert AuthPolicy.for_settings(Settings(mode="dev")).argon2.memory_cost_kib == 65_536


def test_addresses_compare_case_insensitively_after_nfc() -> None:
    decomposed = "Jose\u0301@Example.ORG "
    assert normalise(decomposed) == "Jos\u00e9@Example.ORG"
    assert comparison_key(decomposed) == comparison_key("JOS\u00c9@example.org")
