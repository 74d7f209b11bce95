"""Everything the domain logic needs, built once per app: one argument instead of eight."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from auth_service.limits import VoterLimits
from auth_service.passwords import Passwords
from auth_service.policy import AuthPolicy
from auth_service.ratelimit import RateLimiter, SlidingWindowLimiter
from securevote.auth import TokenSigner, signer_from_settings
from securevote.config import Settings
from securevote.db import Database

SERVICE = "auth"


@dataclass(frozen=True)
class AuthContext:
    database: Database
    settings: Settings
    policy: AuthPolicy
    passwords: Passwords
    signer: TokenSigner
    login_limiter: RateLimiter  # per client address
    refresh_limiter: RateLimiter  # per client address
    # Failed logins for addresses without an account, so that they lock out exactly like
    # real accounts do and a lockout reveals nothing (kept in process memory).
    unknown_account_failures: RateLimiter
    # Voter redemption: per address, per token and lockout; in Redis when REDIS_URL is set.
    voter_limits: VoterLimits

    @classmethod
    def build(
        cls, *, settings: Settings, database: Database, policy: AuthPolicy | None = None
    ) -> AuthContext:
        policy = policy or AuthPolicy.for_settings(settings)

        def per_address() -> SlidingWindowLimiter:
            return SlidingWindowLimiter(
                limit=policy.address_attempts,
                window_seconds=policy.address_window_seconds,
                clock=policy.clock,
            )

        return cls(
            database=database,
            settings=settings,
            policy=policy,
            passwords=Passwords(policy.argon2),
            signer=signer_from_settings(settings),
            login_limiter=per_address(),
            refresh_limiter=per_address(),
            unknown_account_failures=SlidingWindowLimiter(
                limit=policy.lockout_failures,
                window_seconds=policy.lockout_seconds,
                clock=policy.clock,
            ),
            voter_limits=VoterLimits.build(settings, policy),
        )

    async def aclose(self) -> None:
        """Release what the context holds outside the database (the Redis connections)."""
        await self.voter_limits.aclose()

    @property
    def server_secret(self) -> bytes:
        return self.settings.secret_key_bytes

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.policy.clock(), UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
