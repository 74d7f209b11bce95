"""Prometheus metrics of the ballot box (names agreed in deploy/prometheus and grafana).

Counted per process that accepts the ballot; Prometheus sums the replicas. No label carries
an election's voters or anything about a ballot's content.
"""

from __future__ import annotations

from prometheus_client import Counter

BALLOTS_CAST = Counter(
    "securevote_ballots_cast_total",
    "Ballots accepted onto the board (a retried request with the same key is not counted).",
)
