"""argon2id password hashing, with a dummy hash so unknown accounts cost the same time.

Hashing runs in worker threads (argon2-cffi releases the GIL), so a login does not stall
the event loop for everyone else, and at most ``MAX_CONCURRENT_HASHES`` run at once, which
bounds the memory a burst of logins can take (64 MiB each with the default parameters).
"""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from auth_service.policy import TEST_ARGON2, Argon2Parameters

MAX_CONCURRENT_HASHES = 4


class Passwords:
    def __init__(self, parameters: Argon2Parameters) -> None:
        self._hasher = PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_cost_kib,
            parallelism=parameters.parallelism,
            type=Type.ID,
        )
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_HASHES)
        # The test suite's cheap parameters never replace a stronger hash.
        self._upgrades = parameters != TEST_ARGON2
        # Verified instead when the account does not exist: same work, always false.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(32))

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True only if ``password`` matches; ``None`` burns the same time and is false."""
        async with self._slots:
            matches = await asyncio.to_thread(
                self._verify, password_hash or self._dummy_hash, password
            )
        return matches and password_hash is not None

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters (rehashed at the next login)."""
        return self._upgrades and self._hasher.check_needs_rehash(password_hash)
