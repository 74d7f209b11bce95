"""Redeeming a voter token (and the roll secret, when the election asks for one) for a
short voter session.

Every refusal for a token that does not open a session (unknown, expired, spent, election
not open, wrong roll secret) raises the same :class:`InvalidVoterToken`, after the same
work: one look-up by keyed hash, one election read, one roll-secret digest and one
constant-time comparison, one ballot look-up, one audit entry and one failure count.
Only a token that is valid and current but was sent without the roll secret its election
needs answers differently (``roll_secret_required``): the caller holds a valid token, so
this tells nobody anything new, and it does not count as a failure.

Limits: per client address and per token (keyed hash) over a sliding window, and a lockout
of the token after repeated failures (see :mod:`auth_service.limits`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date

from auth_service import metrics, voter_tokens
from auth_service.context import SERVICE, AuthContext, as_utc
from auth_service.errors import InvalidVoterToken, RollSecretRequired, TooManyAttempts
from auth_service.identity import voter_subject, voter_token_hash
from auth_service.roll_reader import ballot_stored, election
from securevote import audit
from securevote.auth import PrincipalKind
from securevote.logging import get_logger
from securevote.roll_secret import normalise_date_of_birth, secret_digest

log = get_logger(__name__)
_INVALID = "This voting link is not valid. It may have expired or been replaced."
_NO_ELECTION = "00000000-0000-0000-0000-000000000000"
_NO_DIGEST = "0" * 64


@dataclass(frozen=True)
class VoterSession:
    session_token: str
    expires_in: int
    election_id: str


def _digest_of(ctx: AuthContext, election_id: str, given: str | None, today: date) -> str:
    """The digest of what the voter typed; a value that never matches when it is missing
    or not a date (the same work either way)."""
    try:
        normalised = normalise_date_of_birth(given or "", today=today)
    except ValueError:
        normalised = "invalid"
    return secret_digest(ctx.server_secret, election_id=election_id, normalised=normalised)


async def _check_limits(ctx: AuthContext, client: str, token_key: str) -> None:
    limits = ctx.voter_limits
    wait = await limits.per_address.hit(f"address:{client}")
    if wait is None:
        wait = await limits.failures.blocked_for(f"token:{token_key}")
    if wait is None:
        wait = await limits.per_token.hit(f"token:{token_key}")
    if wait is not None:
        metrics.count_redemption("limited")
        raise TooManyAttempts(wait)


async def redeem(
    *, ctx: AuthContext, token: str, roll_secret: str | None, client: str
) -> VoterSession:
    """A voter session for a valid token; InvalidVoterToken, RollSecretRequired or
    TooManyAttempts otherwise."""
    token_key = voter_token_hash(ctx.server_secret, token)[:32]
    await _check_limits(ctx, client, token_key)
    now = ctx.now()
    outcome: str
    result: VoterSession | None = None
    async with ctx.database.session() as session:
        row = await voter_tokens.find(session, ctx, token)
        found = await election(session, row.election_id if row is not None else _NO_ELECTION)
        election_id = found.id if found is not None else _NO_ELECTION
        stored = (row.secret_digest if row is not None else None) or _NO_DIGEST
        given = _digest_of(ctx, election_id, roll_secret, now.date())
        secret_ok = hmac.compare_digest(given.encode(), stored.encode())
        # Asked whatever the election allows, so every path does the same work.
        voted = await ballot_stored(session, election_id, row.credential if row is not None else "")
        voted = voted and found is not None and not found.allow_revoting
        if row is None or found is None:
            outcome = "unknown"
        elif row.spent_at is not None:
            outcome = "spent"
        elif as_utc(row.expires_at) <= now or found.closes_at <= now:
            outcome = "expired"
        elif not found.is_open:
            outcome = "not_open"
        elif voted:
            row.spent_at = now
            outcome = "spent"
        elif found.needs_roll_secret and not roll_secret:
            outcome = "secret_required"
        elif found.needs_roll_secret and not secret_ok:
            outcome = "wrong_secret"
        else:
            outcome = "success"
            until_close = int((found.closes_at - now).total_seconds())
            ttl = min(ctx.policy.voter_session_seconds, until_close)
            claims = {
                "sub": voter_subject(ctx.server_secret, row.credential),
                "kind": PrincipalKind.VOTER.value,
                "eid": found.id,
                "cred": row.credential,
            }
            result = VoterSession(
                session_token=ctx.signer.issue(claims, ttl_seconds=max(ttl, 1)),
                expires_in=max(ttl, 1),
                election_id=found.id,
            )
        target = f"credential:{row.credential}" if row is not None else "voter-token:unknown"
        details: dict[str, object] = {"reason": outcome, "client": client}
        if found is not None:
            details["election"] = found.id
        # Last, just before the commit: from here to the commit this request holds the audit
        # log's one lock, which every audited write of every service waits for.
        await audit.record(
            session,
            service=SERVICE,
            actor=target if result is not None else "anonymous",
            action="auth.voter.redeem",
            target=target,
            outcome=audit.Outcome.SUCCESS if result is not None else audit.Outcome.FAILURE,
            details=details,
        )
    log.info("voter_redeem", outcome=outcome)
    metrics.count_redemption(outcome)
    if result is not None:
        return result
    if outcome == "secret_required":
        raise RollSecretRequired("This election also asks for your date of birth.")
    locked = await ctx.voter_limits.failures.hit(f"token:{token_key}")
    if locked is None:
        locked = await ctx.voter_limits.failures.blocked_for(f"token:{token_key}")
    if locked is not None:
        metrics.count_redemption("locked")
        raise TooManyAttempts(locked)
    raise InvalidVoterToken(_INVALID)
