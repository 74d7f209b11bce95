"""What the auth service's domain logic refuses, without HTTP types; ``app.py`` maps each
to a problem+json answer (see ``api/problems.py``)."""

from __future__ import annotations


class AuthServiceError(Exception):
    """Base class. Messages are client-safe: never a secret, token or password."""


class InvalidCredentials(AuthServiceError):
    """Unknown account, wrong password, disabled account: one answer for all of them."""


class SecondFactorRequired(AuthServiceError):
    """The password was right; the account also needs a TOTP code."""


class InvalidSecondFactor(AuthServiceError):
    """At login: the TOTP code is wrong (answered like a wrong password)."""


class ConfirmationFailed(AuthServiceError):
    """The password or TOTP code given to confirm a change is wrong."""


class InvalidRefreshToken(AuthServiceError):
    """Unknown, expired, spent or revoked refresh token: one answer for all of them."""


class TooManyAttempts(AuthServiceError):
    def __init__(self, retry_after: float) -> None:
        super().__init__("Too many attempts.")
        self.retry_after = retry_after


class NotFound(AuthServiceError):
    """Absent, or in another organisation: the caller cannot tell which."""


class Conflict(AuthServiceError):
    pass


class NotAllowed(AuthServiceError):
    """The caller's role does not allow this function."""


class AccountInactive(AuthServiceError):
    """The token is valid but its account no longer exists or is disabled."""


class InvalidVoterToken(AuthServiceError):
    """Unknown, expired, replaced or spent voter token, or a wrong roll secret: one answer."""


class RollSecretRequired(AuthServiceError):
    """The token is valid; its election also asks for the roll secret (date of birth)."""


class ElectionNotOpen(AuthServiceError):
    """Invitations, resends and reminders need an open election."""
