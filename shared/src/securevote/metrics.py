"""Prometheus metrics: request counts by status and latency per route, served at /metrics.

Metric objects are process-wide (prometheus-client's default registry), labelled by service,
so that the all-in-one process, which runs every service, exposes them all at one /metrics.
"""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.responses import Response

REQUESTS = Counter(
    "securevote_http_requests_total",
    "HTTP requests handled, by route template and status code.",
    ["service", "method", "route", "status"],
)
LATENCY = Histogram(
    "securevote_http_request_duration_seconds",
    "Time from request to the end of the response, by route template.",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def observe_request(*, service: str, method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(service, method, route, str(status)).inc()
    LATENCY.labels(service, method, route).observe(seconds)


router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
