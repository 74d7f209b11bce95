"""The knobs of the auth service: token lifetimes, rate limits, lockout, password hashing.

They are not (yet) settings of their own: ``AuthPolicy.for_settings`` picks the values, and
tests pass a policy with small limits to ``create_app``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from securevote.config import Mode, Settings


@dataclass(frozen=True)
class Argon2Parameters:
    """argon2id cost. The default is RFC 9106's second recommended option (64 MiB, t=3)."""

    time_cost: int = 3
    memory_cost_kib: int = 65_536
    parallelism: int = 4


# Only for the test suite (never in dev or prod): keeps thousands of hashes fast.
TEST_ARGON2 = Argon2Parameters(time_cost=1, memory_cost_kib=1024, parallelism=1)
# TEST_MODE: voter tokens expire after 15 minutes (or at the close, whichever is first).
TEST_VOTER_TOKEN_SECONDS = 15 * 60


@dataclass(frozen=True)
class AuthPolicy:
    access_token_seconds: int = 600
    refresh_token_seconds: int = 12 * 3600  # idle limit: a refresh token unused this long dies
    session_max_seconds: int = 7 * 24 * 3600  # absolute limit of one login session (family)
    # Per client address, over a sliding window, for login and refresh separately.
    address_attempts: int = 20
    address_window_seconds: float = 60.0
    # Per account: this many failures in a row lock it for lockout_seconds.
    lockout_failures: int = 5
    lockout_seconds: int = 15 * 60
    argon2: Argon2Parameters = field(default_factory=Argon2Parameters)
    totp_issuer: str = "secure-vote"
    # Voter access (issue 5). A voter token lives until its election closes, or at most
    # voter_token_seconds when that is set (TEST_MODE sets it: short-lived test tokens).
    voter_token_seconds: int | None = None
    voter_session_seconds: int = 30 * 60
    redeem_address_attempts: int = 30  # per client address per redeem_window_seconds
    redeem_token_attempts: int = 10  # per token per redeem_window_seconds
    redeem_window_seconds: float = 60.0
    redeem_lockout_failures: int = 5  # failures on one token within the lockout period …
    redeem_lockout_seconds: int = 15 * 60  # … lock that token for this long
    limits_namespace: str = "securevote"  # prefix of the Redis keys
    mail_batch_size: int = 100
    mail_concurrency: int = 4  # SMTP connections per worker
    mail_max_attempts: int = 8
    mail_backoff_seconds: float = 60.0  # first retry; doubles each time …
    mail_backoff_max_seconds: float = 3600.0  # … up to this
    mail_lease_seconds: float = 300.0  # a claimed message returns to the queue after this
    resend_cooldown_seconds: int = 10 * 60  # per voter
    reminder_cooldown_seconds: int = 6 * 3600  # per election
    # Wall clock (seconds) for TOTP steps, lockouts and refresh expiry; tests move it.
    # Access tokens always carry the real time, since every service checks them.
    clock: Callable[[], float] = time.time

    @classmethod
    def for_settings(cls, settings: Settings) -> AuthPolicy:
        values: dict[str, object] = {}
        if settings.mode is Mode.TEST:
            values["argon2"] = TEST_ARGON2
        if settings.test_mode:  # refused in prod mode by the settings
            values["voter_token_seconds"] = TEST_VOTER_TOKEN_SECONDS
        return cls(**values)  # type: ignore[arg-type]
