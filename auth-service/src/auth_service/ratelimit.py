"""In-process sliding-window limits (issue 5 adds a Redis-backed one with the same shape).

A limit is "at most ``limit`` events per ``window`` seconds for one key". Everything here is
synchronous: in one event loop a check-and-record cannot be interleaved.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol


class RateLimiter(Protocol):
    def hit(self, key: str) -> float | None:
        """Record one event for ``key``; seconds to wait if it is over the limit (then the
        event is not recorded), else None."""

    def blocked_for(self, key: str) -> float | None:
        """Seconds until ``key`` may act again without recording anything, or None."""

    def reset(self, key: str) -> None: ...


class SlidingWindowLimiter:
    """A log of event times per key. Keeps at most ``max_keys`` keys (least recent dropped),
    so a flood of distinct keys cannot exhaust memory."""

    def __init__(
        self,
        *,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError("a limit needs at least one event per positive window")
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            events = deque()
            self._events[key] = events
            while len(self._events) > self._max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def _wait(self, events: deque[float], now: float) -> float | None:
        if len(events) < self.limit:
            return None
        return max(events[-self.limit] + self.window - now, 0.001)

    def hit(self, key: str) -> float | None:
        now = self._clock()
        events = self._recent(key, now)
        wait = self._wait(events, now)
        if wait is None:
            events.append(now)
        return wait

    def blocked_for(self, key: str) -> float | None:
        now = self._clock()
        return self._wait(self._recent(key, now), now)

    def reset(self, key: str) -> None:
        self._events.pop(key, None)


def retry_after_header(seconds: float) -> str:
    """Retry-After in whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))
