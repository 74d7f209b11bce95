"""Turn the service layer's refusals into problem+json answers (RFC 9457)."""

from __future__ import annotations

from securevote.errors import Problem
from voting_service.service import BallotBoxError


def problem_from(error: BallotBoxError) -> Problem:
    """``code`` is machine-readable (``voted``, ``box_closed``, ``ballot_invalid`` …)."""
    return Problem(error.status, error.detail, code=error.code)
