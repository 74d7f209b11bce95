"""Domain errors of the election service. They carry no HTTP types; ``api.errors`` maps
them to problem+json. Messages never quote personal data."""

from __future__ import annotations


class ElectionError(Exception):
    """Base of every refusal the service reports to a client."""


class NotFound(ElectionError):
    """The object does not exist, or belongs to another organisation (never told apart)."""


class NotEditable(ElectionError):
    """The election is past its draft: nothing that defines it can change."""

    def __init__(self, state: str) -> None:
        super().__init__(f"The election is {state}: nothing that defines it can change.")
        self.state = state


class TransitionRefused(ElectionError):
    """A lifecycle transition is not possible now; ``missing`` lists what is not ready."""

    def __init__(self, message: str, *, state: str, missing: list[str] | None = None) -> None:
        super().__init__(message)
        self.state = state
        self.missing = missing or []


class InvalidInput(ElectionError):
    """The input is well-formed but cannot be accepted (for a reason given in the message)."""

    def __init__(self, message: str, *, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class Conflict(ElectionError):
    """A concurrent change won (a unique constraint refused this one); retrying may work."""


class Forbidden(ElectionError):
    """The caller may see the election but not do this (e.g. act as another trustee)."""
