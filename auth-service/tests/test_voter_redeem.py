"""Redemption: a voter session as JSON and as a cookie; one answer for every kind of bad
token; the roll secret; spent tokens when re-voting is off; rate limits and lockout in
process memory and in Redis; nothing secret in the logs or the audit log."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis import asyncio as aioredis
from sqlalchemy import event, select

from auth_service import outbox
from auth_service.models import DevMail
from securevote.audit import AuditEntry, verify_chain
from securevote.auth import PrincipalKind, principal_from_claims, verifier_from_settings
from securevote.config import Settings
from securevote.deps import VOTER_SESSION_COOKIE
from securevote.logging import configure_logging

from .conftest import FakeClock
from .voter_support import (
    ElectionFixture,
    VoterWorld,
    make_election,
    store_ballot,
    token_in,
    voter_world,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def world(settings: Settings, serve: Any, clock: FakeClock) -> AsyncIterator[VoterWorld]:
    async for voter_world_ in voter_world(settings, serve, clock):
        yield voter_world_


async def tokens_of(world: VoterWorld, fixture: ElectionFixture) -> dict[str, str]:
    """Send the invitations (dev mailbox) and return each voter's token by credential."""
    await outbox.enqueue_invitations(world.ctx, election_id=fixture.id)
    await outbox.run_until_idle(world.ctx)
    by_email = {v.email: v.credential for v in fixture.voters}
    async with world.database.session() as session:
        mails = (
            await session.scalars(select(DevMail).where(DevMail.election_id == fixture.id))
        ).all()
    found: dict[str, str] = {}
    for mail in mails:
        address = mail.recipient.rpartition("<")[2].rstrip(">")
        found[by_email[address]] = token_in(mail.text_body)
    return found


def _comparable(response: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    body = response.json()
    body.pop("request_id", None)
    headers = {
        name: response.headers.get(name, "")
        for name in ("content-type", "www-authenticate", "set-cookie", "retry-after")
    }
    return response.status_code, body, headers


async def test_a_token_opens_a_voter_session_as_json_and_as_a_cookie(world: VoterWorld) -> None:
    fixture = await make_election(world.database, world.settings, voters=1)
    voter = fixture.voters[0]
    token = (await tokens_of(world, fixture))[voter.credential]
    response = await world.redeem(token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["election_id"] == fixture.id
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 30 * 60
    assert response.headers["cache-control"] == "no-store"
    claims = verifier_from_settings(world.settings).verify(body["session_token"])
    principal = principal_from_claims(claims)
    assert principal.kind is PrincipalKind.VOTER
    assert (principal.election_id, principal.credential) == (fixture.id, voter.credential)
    assert voter.credential not in principal.subject
    cookie = response.headers["set-cookie"]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert cookie.startswith(f"{VOTER_SESSION_COOKIE}={body['session_token']};")
    assert "httponly" in attributes and "secure" in attributes
    assert "samesite=strict" in attributes and "path=/" in attributes
    assert f"max-age={body['expires_in']}" in attributes
    # The token stays usable while re-voting is allowed (e.g. a second device).
    assert (await world.redeem(token)).status_code == 200
    logout = await world.client.post("/api/auth/voter/logout")
    assert logout.status_code == 204
    assert f'{VOTER_SESSION_COOKIE}=""' in logout.headers["set-cookie"]


async def test_the_cookie_can_drop_secure_for_plain_http_development(
    settings: Settings, serve: Any, clock: FakeClock
) -> None:
    plain = settings.model_copy(update={"voter_cookie_secure": False})
    async for world in voter_world(plain, serve, clock):
        fixture = await make_election(world.database, plain, voters=1)
        token = next(iter((await tokens_of(world, fixture)).values()))
        response = await world.redeem(token)
        attributes = [p.strip().lower() for p in response.headers["set-cookie"].split(";")]
        assert "secure" not in attributes and "httponly" in attributes


async def test_unknown_expired_spent_and_wrong_secret_answer_alike(world: VoterWorld) -> None:
    plain = await make_election(world.database, world.settings, voters=2, allow_revoting=False)
    guarded = await make_election(
        world.database, world.settings, voters=1, second_factor="date_of_birth"
    )
    plain_tokens = await tokens_of(world, plain)
    guarded_token = next(iter((await tokens_of(world, guarded)).values()))
    voted, later = plain.voters

    # spent: the voter's ballot is stored and re-voting is off
    await store_ballot(world.database, plain.id, voted.credential)
    spent = await world.redeem(plain_tokens[voted.credential])
    # wrong roll secret
    wrong = await world.redeem(guarded_token, roll_secret="1999-12-31")
    # unknown
    unknown = await world.redeem(secrets.token_urlsafe(32))
    # expired (TEST_MODE: 15 minutes)
    world.clock.advance(16 * 60)
    expired = await world.redeem(plain_tokens[later.credential])

    answers = [_comparable(r) for r in (unknown, expired, spent, wrong)]
    assert answers[0][0] == 401
    assert answers[0][1]["code"] == "invalid_voter_token"
    assert all(answer == answers[0] for answer in answers), answers
    # A spent token stays spent.
    assert _comparable(await world.redeem(plain_tokens[voted.credential])) == answers[0]
    async with world.database.session() as session:
        reasons = [
            e.details["reason"]
            for e in (
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == "auth.voter.redeem")
                )
            ).all()
        ]
    assert {"spent", "wrong_secret", "unknown", "expired"} <= set(reasons)


async def test_the_roll_secret_is_checked_when_the_election_asks_for_it(
    world: VoterWorld,
) -> None:
    fixture = await make_election(
        world.database, world.settings, voters=1, second_factor="date_of_birth"
    )
    voter = fixture.voters[0]
    assert voter.date_of_birth is not None
    token = (await tokens_of(world, fixture))[voter.credential]
    missing = await world.redeem(token)
    assert missing.status_code == 401
    assert missing.json()["code"] == "roll_secret_required"
    assert (await world.redeem(token, "not a date")).json()["code"] == "invalid_voter_token"
    year, month, day = voter.date_of_birth.split("-")
    assert (await world.redeem(token, voter.date_of_birth)).status_code == 200
    assert (await world.redeem(token, f"{int(day)}.{int(month)}.{year}")).status_code == 200


async def test_with_revoting_on_a_stored_ballot_does_not_spend_the_token(
    world: VoterWorld,
) -> None:
    fixture = await make_election(world.database, world.settings, voters=1, allow_revoting=True)
    voter = fixture.voters[0]
    token = (await tokens_of(world, fixture))[voter.credential]
    await store_ballot(world.database, fixture.id, voter.credential)
    assert (await world.redeem(token)).status_code == 200


async def test_the_audit_entry_is_the_last_write_and_reads_only_the_head(
    world: VoterWorld,
) -> None:
    """Every audited write in every service queues on the audit log's one lock, held from
    the append to the commit: the redemption appends last, after its own write (spending
    the token), and the append reads the head alone, not every hash of the log."""
    fixture = await make_election(world.database, world.settings, voters=1, allow_revoting=False)
    voter = fixture.voters[0]
    token = (await tokens_of(world, fixture))[voter.credential]
    await store_ballot(world.database, fixture.id, voter.credential)  # the token gets spent
    statements: list[tuple[int, str]] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append((id(conn), " ".join(statement.split())))

    def committed(conn: Any) -> None:
        statements.append((id(conn), "COMMIT"))

    engine = world.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    event.listen(engine, "commit", committed)
    try:
        response = await world.redeem(token)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        event.remove(engine, "commit", committed)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_voter_token")
    appended = [c for c, sql in statements if sql.startswith("INSERT INTO audit_log")]
    assert len(appended) == 1  # the redemption's entry, and no other
    ours = [sql for c, sql in statements if c == appended[0]]
    spend = next(i for i, sql in enumerate(ours) if sql.startswith("UPDATE voter_tokens"))
    lock = next(
        i for i, sql in enumerate(ours) if "pg_advisory_xact_lock" in sql or "audit_log" in sql
    )
    end = ours.index("COMMIT", lock)
    assert spend < lock
    under_lock = ours[lock:end]  # the lock (PostgreSQL), the head, the entry; then the commit
    assert len(under_lock) == (3 if world.database.dialect == "postgresql" else 2), under_lock
    head = next(sql for sql in under_lock if sql.startswith("SELECT audit_log.entry_hash"))
    assert "LIMIT" in head.upper(), head
    assert under_lock[-1].startswith("INSERT INTO audit_log")


async def test_a_closed_election_opens_no_session(world: VoterWorld) -> None:
    from sqlalchemy import text

    fixture = await make_election(world.database, world.settings, voters=1)
    token = next(iter((await tokens_of(world, fixture)).values()))
    async with world.database.engine.begin() as connection:
        await connection.execute(
            text("UPDATE elections SET state = 'closed' WHERE id = :id"), {"id": fixture.id}
        )
    response = await world.redeem(token)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_voter_token")


async def test_malformed_input_is_refused_before_anything_happens(world: VoterWorld) -> None:
    for body in ({}, {"token": "short"}, {"token": "a" * 43, "extra": 1}, {"token": "a b" * 20}):
        response = await world.client.post("/api/auth/voter/redeem", json=body)
        assert response.status_code == 422
        assert "a b" not in response.text


# --- limits, in process memory and in Redis ----------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def limits_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _limited_settings(settings: Settings, backend: str) -> Settings:
    return settings.model_copy(update={"redis_url": REDIS_URL if backend == "redis" else None})


async def _redis_cleanup(namespace: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        async for key in client.scan_iter(match=f"{namespace}:*"):
            await client.delete(key)
    finally:
        await client.aclose()


async def test_repeated_failures_lock_the_token(
    settings: Settings, serve: Any, clock: FakeClock, limits_backend: str
) -> None:
    namespace = f"test-{secrets.token_hex(6)}"
    configured = _limited_settings(settings, limits_backend)
    async for world in voter_world(
        configured,
        serve,
        clock,
        limits_namespace=namespace,
        redeem_lockout_failures=3,
        redeem_lockout_seconds=600,
        redeem_token_attempts=100,
    ):
        assert world.ctx.voter_limits.backend == limits_backend
        fixture = await make_election(
            world.database, configured, voters=1, second_factor="date_of_birth"
        )
        voter = fixture.voters[0]
        token = (await tokens_of(world, fixture))[voter.credential]
        assert (await world.redeem(token, "1900-01-01")).status_code == 401
        assert (await world.redeem(token, "1900-01-02")).status_code == 401
        locking = await world.redeem(token, "1900-01-03")
        assert locking.status_code == 429
        assert locking.json()["code"] == "too_many_attempts"
        assert 590 <= int(locking.headers["Retry-After"]) <= 600
        # Locked: even the right answer waits.
        assert (await world.redeem(token, voter.date_of_birth)).status_code == 429
        # An unknown token locks out exactly the same way (a lockout says nothing).
        stranger = secrets.token_urlsafe(32)
        codes = [(await world.redeem(stranger)).status_code for _ in range(4)]
        assert codes == [401, 401, 429, 429]
        world.clock.advance(601)
        assert (await world.redeem(token, voter.date_of_birth)).status_code == 200
    if limits_backend == "redis":
        await _redis_cleanup(namespace)


async def test_rate_limits_per_address_and_per_token(
    settings: Settings, serve: Any, clock: FakeClock, limits_backend: str
) -> None:
    namespace = f"test-{secrets.token_hex(6)}"
    configured = _limited_settings(settings, limits_backend)
    async for world in voter_world(
        configured,
        serve,
        clock,
        limits_namespace=namespace,
        redeem_address_attempts=5,
        redeem_token_attempts=3,
        redeem_window_seconds=60.0,
    ):
        fixture = await make_election(world.database, configured, voters=1)
        token = next(iter((await tokens_of(world, fixture)).values()))
        codes = [(await world.redeem(token)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]  # per token
        other = [(await world.redeem(secrets.token_urlsafe(32))).status_code for _ in range(2)]
        assert other == [401, 429]  # the address has used its 5
        limited = await world.redeem(secrets.token_urlsafe(32))
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        world.clock.advance(61)
        assert (await world.redeem(token)).status_code == 200
    if limits_backend == "redis":
        await _redis_cleanup(namespace)


async def test_redis_limits_hold_across_replicas(
    settings: Settings, serve: Any, clock: FakeClock
) -> None:
    namespace = f"test-{secrets.token_hex(6)}"
    configured = _limited_settings(settings, "redis")
    policy = {"limits_namespace": namespace, "redeem_lockout_failures": 2}
    async for first in voter_world(configured, serve, clock, **policy):
        async for second in voter_world(configured, serve, clock, **policy):
            fixture = await make_election(first.database, configured, voters=1)
            token = next(iter((await tokens_of(first, fixture)).values()))
            stranger = secrets.token_urlsafe(32)
            assert (await first.redeem(stranger)).status_code == 401
            assert (await second.redeem(stranger)).status_code == 429  # the second failure
            assert (await first.redeem(stranger)).status_code == 429
            assert (await second.redeem(token)).status_code == 200
    await _redis_cleanup(namespace)


async def test_without_redis_reachable_the_limits_fall_back_to_memory(
    settings: Settings, serve: Any, clock: FakeClock
) -> None:
    from .voter_support import free_port

    unreachable = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async for world in voter_world(unreachable, serve, clock, redeem_lockout_failures=2):
        stranger = secrets.token_urlsafe(32)
        assert (await world.redeem(stranger)).status_code == 401
        assert (await world.redeem(stranger)).status_code == 429


# --- nothing secret in logs and audit ------------------------------------------------------------


async def test_no_token_address_or_birth_date_in_logs_or_audit(
    world: VoterWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO")
    fixture = await make_election(
        world.database, world.settings, voters=2, second_factor="date_of_birth"
    )
    tokens = await tokens_of(world, fixture)
    first, second = fixture.voters
    assert first.date_of_birth is not None
    ok = await world.redeem(tokens[first.credential], first.date_of_birth)
    assert ok.status_code == 200
    await world.redeem(tokens[second.credential], "1911-11-11")
    await world.redeem(tokens[second.credential])
    await world.redeem(secrets.token_urlsafe(32), "2001-02-03")
    output = capsys.readouterr()
    logged = output.out + output.err
    assert '"route": "/api/auth/voter/redeem"' in logged
    secrets_used = [
        *tokens.values(),
        ok.json()["session_token"],
        "1911-11-11",
        "2001-02-03",
        *(v.email for v in fixture.voters),
        *(v.date_of_birth or "" for v in fixture.voters),
    ]
    async with world.database.session() as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
        assert (await verify_chain(session)).ok
    audit_dump = json.dumps([[e.actor, e.action, e.target, e.details] for e in entries])
    assert "auth.voter_token.issue" in audit_dump and "auth.voter.redeem" in audit_dump
    for secret in secrets_used:
        assert secret not in logged
        assert secret not in audit_dump
