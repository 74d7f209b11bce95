"""Rate limits and lockouts for voter access, shared by replicas through Redis.

A limit is "at most ``limit`` events per sliding ``window`` seconds for one key", the same
shape as :mod:`auth_service.ratelimit`. With ``REDIS_URL`` set, the event log of a key is a
Redis sorted set and one Lua script checks and records atomically, so every replica sees
every event. Without it, the in-process :class:`SlidingWindowLimiter` is used (one replica,
or the all-in-one process).

If Redis cannot be reached, the limiter falls back to the in-process one and logs a warning:
voters can still vote on election day, and each replica still limits on its own.

Keys never contain a raw token: callers pass a keyed hash.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from auth_service.policy import AuthPolicy
from auth_service.ratelimit import SlidingWindowLimiter
from securevote.config import Settings
from securevote.logging import get_logger

log = get_logger(__name__)

# KEYS[1] = the key; ARGV = now, window, limit, member, record ("1" to record the event).
# Returns nil when under the limit, else the seconds to wait as a string (Lua numbers are
# truncated to integers on the way out).
_HIT_SCRIPT = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count >= limit then
  local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
  local wait = tonumber(oldest[2]) + window - now
  if wait < 0.001 then wait = 0.001 end
  return tostring(wait)
end
if ARGV[5] == '1' then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
end
return false
"""


class AsyncLimiter(Protocol):
    async def hit(self, key: str) -> float | None:
        """Record one event; seconds to wait if over the limit (then nothing is recorded)."""

    async def blocked_for(self, key: str) -> float | None:
        """Seconds until ``key`` may act again, without recording anything; or None."""

    async def reset(self, key: str) -> None: ...


class LocalLimiter:
    """The in-process sliding window behind the async interface."""

    def __init__(self, limiter: SlidingWindowLimiter) -> None:
        self._limiter = limiter

    async def hit(self, key: str) -> float | None:
        return self._limiter.hit(key)

    async def blocked_for(self, key: str) -> float | None:
        return self._limiter.blocked_for(key)

    async def reset(self, key: str) -> None:
        self._limiter.reset(key)


class RedisLimiter:
    """A sliding window in a Redis sorted set per key, checked and recorded atomically."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        name: str,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float],
        fallback: LocalLimiter,
    ) -> None:
        self._client = client
        self._prefix = f"{name}:"
        self._limit = limit
        self._window = window_seconds
        self._clock = clock
        self._fallback = fallback
        self._script: Any = client.register_script(_HIT_SCRIPT)

    async def _run(self, key: str, *, record: bool) -> float | None:
        now = self._clock()
        member = f"{now!r}:{secrets.token_hex(6)}"
        args = [repr(now), repr(self._window), self._limit, member, "1" if record else "0"]
        result = await self._script(keys=[self._prefix + key], args=args)
        if result is None:
            return None
        return float(result.decode() if isinstance(result, bytes) else result)

    async def hit(self, key: str) -> float | None:
        try:
            return await self._run(key, record=True)
        except (RedisError, OSError) as exc:
            log.warning("rate_limit_redis_unavailable", error_type=type(exc).__name__)
            return await self._fallback.hit(key)

    async def blocked_for(self, key: str) -> float | None:
        try:
            return await self._run(key, record=False)
        except (RedisError, OSError) as exc:
            log.warning("rate_limit_redis_unavailable", error_type=type(exc).__name__)
            return await self._fallback.blocked_for(key)

    async def reset(self, key: str) -> None:
        try:
            await self._client.delete(self._prefix + key)
        except (RedisError, OSError) as exc:
            log.warning("rate_limit_redis_unavailable", error_type=type(exc).__name__)
        await self._fallback.reset(key)


@dataclass
class VoterLimits:
    """The three limits of redemption: per client address, per token, and the lockout
    (failures per token)."""

    per_address: AsyncLimiter
    per_token: AsyncLimiter
    failures: AsyncLimiter
    backend: str  # "redis" or "memory"
    _client: aioredis.Redis | None = None

    @classmethod
    def build(cls, settings: Settings, policy: AuthPolicy) -> VoterLimits:
        specs = {
            "address": (policy.redeem_address_attempts, policy.redeem_window_seconds),
            "token": (policy.redeem_token_attempts, policy.redeem_window_seconds),
            "failures": (policy.redeem_lockout_failures, float(policy.redeem_lockout_seconds)),
        }
        local = {
            name: LocalLimiter(
                SlidingWindowLimiter(limit=limit, window_seconds=window, clock=policy.clock)
            )
            for name, (limit, window) in specs.items()
        }
        if not settings.redis_url:
            return cls(local["address"], local["token"], local["failures"], "memory")
        client = aioredis.Redis.from_url(
            settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        remote = {
            name: RedisLimiter(
                client,
                name=f"{policy.limits_namespace}:voter-redeem:{name}",
                limit=limit,
                window_seconds=window,
                clock=policy.clock,
                fallback=local[name],
            )
            for name, (limit, window) in specs.items()
        }
        return cls(remote["address"], remote["token"], remote["failures"], "redis", client)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
