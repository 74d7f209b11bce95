"""Prometheus metrics of the results service (alert rules: deploy/prometheus/rules).

``securevote_tallies_failed`` is the number of tallies stopped in the ``failed`` state, read
from the database by every results service process every ``FAILED_INTERVAL_SECONDS``: it
stays above zero until an administrator restarts the tally (docs/runbooks/tally-failure.md),
whichever process (API or job) the failure happened in.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Gauge

from results_service.service import count_failed
from securevote.db import Database
from securevote.logging import get_logger

log = get_logger(__name__)
FAILED_INTERVAL_SECONDS = 30.0

TALLIES_FAILED = Gauge(
    "securevote_tallies_failed",
    "Tallies stopped on a counted ballot they cannot add; an administrator restarts them.",
)


async def refresh_failed_tallies(database: Database) -> None:
    async with database.session() as session:
        TALLIES_FAILED.set(await count_failed(session))


async def watch_failed_tallies(database: Database) -> None:
    """Keep TALLIES_FAILED current until cancelled."""
    while True:
        try:
            await refresh_failed_tallies(database)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. not migrated yet; /ready says so
            log.warning("failed_tallies_count_failed", error_type=type(exc).__name__)
        await asyncio.sleep(FAILED_INTERVAL_SECONDS)
