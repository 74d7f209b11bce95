"""Errors shown to a person as an HTML page (never a stack trace, never a secret)."""

from __future__ import annotations


class PageError(Exception):
    """Render ``error.html`` with this status, title and message."""

    def __init__(self, status: int, message: str, *, title: str = "Something went wrong") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.title = title
