"""The roll secret (second factor): only an HMAC-SHA-256 of its normalised form is stored.

The key is derived from the server secret with a domain tag, and the election id is part of
the message, so the same date of birth gives unrelated digests in two elections and a copy
of the database alone does not allow a dictionary search over the ~40,000 plausible dates.
The election service computes it at roll import and the auth service computes the same
digest at redemption to check what a voter types, so it lives in the shared library (see
``docs/api-elections.md`` and ``docs/api-auth.md``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date
from functools import lru_cache

_KEY_DOMAIN = b"securevote/v1/roll-secret-key"
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DOTTED_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
EARLIEST_BIRTH_YEAR = 1900


def normalise_date_of_birth(value: str, *, today: date) -> str:
    """``YYYY-MM-DD`` (or the unambiguous ``DD.MM.YYYY``) as ISO ``YYYY-MM-DD``; ValueError
    with a message that does not quote the value otherwise."""
    text = value.strip()
    if match := _ISO_DATE.match(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := _DOTTED_DATE.match(text):
        day, month, year = (int(part) for part in match.groups())
    else:
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        parsed = date(year, month, day)
    except ValueError as exc:
        raise ValueError("is not a valid calendar date") from exc
    if parsed.year < EARLIEST_BIRTH_YEAR or parsed > today:
        raise ValueError("is not a plausible date of birth")
    return parsed.isoformat()


@lru_cache(maxsize=4)
def _roll_key(server_secret: bytes) -> bytes:
    return hmac.new(server_secret, _KEY_DOMAIN, hashlib.sha256).digest()


def secret_digest(server_secret: bytes, *, election_id: str, normalised: str) -> str:
    """Hex HMAC-SHA-256 of the normalised secret, bound to the election."""
    key = _roll_key(server_secret)
    message = election_id.encode() + b"\x00" + normalised.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
