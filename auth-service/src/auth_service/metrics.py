"""Prometheus metrics of voter access (names agreed in deploy/prometheus/rules).

Counters count in the process that does the work: redemptions in the auth service, tokens
issued and mails sent in the process that runs the mail job (the all-in-one process, or a
``securevote jobs run mail --loop`` Deployment that Prometheus scrapes). The outbox depth is
read from the database by every auth service process every ``DEPTH_INTERVAL_SECONDS``.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Counter, Gauge

from securevote.db import Database
from securevote.logging import get_logger

log = get_logger(__name__)
DEPTH_INTERVAL_SECONDS = 30.0

TOKEN_VALIDATIONS = Counter(
    "securevote_token_validations_total",
    "Voter token redemptions, by outcome (ok, invalid, expired, used, wrong_secret, …).",
    ["outcome"],
)
TOKENS_ISSUED = Counter("securevote_tokens_issued_total", "Voter tokens issued (and mailed).")
MAIL_SENT = Counter(
    "securevote_mail_sent_total",
    "Voter mail delivery attempts, by outcome (sent, deferred, failed, cancelled).",
    ["outcome"],
)
OUTBOX_PENDING = Gauge(
    "securevote_mail_outbox_pending", "Voter mails waiting in the outbox (pending or sending)."
)

# Redemption outcomes as the alert rules name them.
_VALIDATION_LABELS = {"success": "ok", "unknown": "invalid", "spent": "used"}


def count_redemption(outcome: str) -> None:
    TOKEN_VALIDATIONS.labels(_VALIDATION_LABELS.get(outcome, outcome)).inc()


async def watch_outbox_depth(database: Database) -> None:
    """Keep OUTBOX_PENDING current until cancelled."""
    from auth_service.outbox import outbox_depth

    while True:
        try:
            async with database.session() as session:
                OUTBOX_PENDING.set(await outbox_depth(session))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. not migrated yet; /ready says so
            log.warning("outbox_depth_failed", error_type=type(exc).__name__)
        await asyncio.sleep(DEPTH_INTERVAL_SECONDS)
