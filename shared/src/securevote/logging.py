"""Structured JSON logs on stdout, one line per event, with a request id.

Redaction is applied to every event before it is rendered: any field whose name suggests a
secret or ballot content is replaced, at any depth, and string values that look like a
bearer token (a JWT) are masked. Access logs carry the route template, never the raw path or
query string, because voting links carry a token in them.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"
_SENSITIVE_KEY = re.compile(
    r"token|password|passwd|secret|authorization|cookie|ballot|ciphertext|selection|choice"
    r"|credential|otp|totp|signature_key|private|seed|randomness|nonce",
    re.IGNORECASE,
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
# Fields structlog itself adds, never sensitive, kept as they are.
_SAFE_KEYS = frozenset({"event", "level", "timestamp", "logger", "request_id", "exception"})


def redact(value: Any, key: str = "") -> Any:
    """Return ``value`` with sensitive fields replaced; containers are copied, never mutated."""
    if key and key not in _SAFE_KEYS and _SENSITIVE_KEY.search(key):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _JWT.sub(REDACTED, value)
    return value


def _exception_without_message(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Render ``exc_info`` as the exception's type and stack only. Messages can quote input
    values, tokens or SQL parameters, and an exception logged by a library (uvicorn's
    "Exception in ASGI application") would otherwise carry them into the log."""
    exc_info = event.pop("exc_info", None)
    if not exc_info:
        return event
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    kind, _value, tb = exc_info
    if kind is not None:
        event["error_type"] = f"{kind.__module__}.{kind.__qualname__}"
        event["stack"] = "".join(traceback.format_tb(tb))
    return event


def _redact_processor(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    return {k: redact(v, k) for k, v in event.items()}


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at the time of each record (tests swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    """Send structlog and the standard library's loggers through one JSON handler on stdout."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = _StdoutHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _exception_without_message,
                _redact_processor,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # Uvicorn's own access log prints raw paths (tokens); ours prints route templates.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every URL it requests at INFO; URLs can carry tokens.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its bound values at DEBUG (user input, hashes).
    logging.getLogger("aiosqlite").setLevel(max(numeric, logging.INFO))
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
