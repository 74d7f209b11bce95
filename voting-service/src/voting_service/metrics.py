"""Prometheus metrics of the ballot box (names agreed in deploy/prometheus and grafana).

Counted per process that accepts the ballot; Prometheus sums the replicas. No label carries
an election's voters or anything about a ballot's content.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

BALLOTS_CAST = Counter(
    "securevote_ballots_cast_total",
    "Ballots accepted onto the board (a retried request with the same key is not counted).",
)

CAST_BATCH_SIZE = Histogram(
    "securevote_cast_batch_size",
    "Casts stored per transaction by group commit (docs/adr/0013-group-commit.md).",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
