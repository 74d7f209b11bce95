"""Invitation mail: the outbox, the worker over a real SMTP server (aiosmtpd), retries with
backoff, permanent failures per voter, the dev mailbox, deterministic test tokens, re-issue
and concurrent issuance, and the organisers' endpoints with their role checks."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text

from auth_service import outbox, voter_tokens
from auth_service.identity import deterministic_voter_token, voter_token_hash
from auth_service.models import MailMessage, VoterToken
from auth_service.roll_reader import election, voter_by_credential
from securevote.audit import AuditEntry
from securevote.auth import Role
from securevote.config import Mode, Settings
from securevote.jobs import installed_jobs

from .conftest import FakeClock
from .voter_support import (
    SmtpServer,
    VoterWorld,
    mail_html,
    mail_text,
    make_election,
    store_ballot,
    token_in,
    voter_headers,
    voter_world,
)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def with_smtp(settings: Settings, server: SmtpServer, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": server.port,
            "smtp_security": "none",
            "public_url": "https://vote.example.org",
            **extra,
        }
    )


@pytest.fixture
async def mailing(
    settings: Settings, serve: Any, clock: FakeClock, smtp: SmtpServer
) -> AsyncIterator[VoterWorld]:
    async for world in voter_world(with_smtp(settings, smtp), serve, clock):
        yield world


@pytest.fixture
async def devmail(settings: Settings, serve: Any, clock: FakeClock) -> AsyncIterator[VoterWorld]:
    async for world in voter_world(settings, serve, clock):
        yield world


async def _status_counts(world: VoterWorld, election_id: str) -> dict[str, int]:
    async with world.database.session() as session:
        rows = (
            await session.execute(
                select(MailMessage.status, func.count())
                .where(MailMessage.election_id == election_id)
                .group_by(MailMessage.status)
            )
        ).all()
    return {status: int(count) for status, count in rows}


async def test_invitations_reach_a_real_smtp_server_and_the_links_open_sessions(
    mailing: VoterWorld, smtp: SmtpServer
) -> None:
    owner = await mailing.owner("Acme Union", "owner@example.org")
    fixture = await make_election(mailing.database, mailing.settings, org=owner.organisation_id)
    totals = await mailing.send_mail()
    assert totals == {"sent": 3}
    assert len(smtp.sink.messages) == 3
    for voter in fixture.voters:
        (message,) = smtp.sink.to(voter.email)
        assert message["Subject"] == "Your voting link: Board election <2027> & more"
        assert message["From"] == "secure-vote <no-reply@localhost>"
        text_body, html_body = mail_text(message), mail_html(message)
        token = token_in(text_body)
        assert token == token_in(html_body)
        assert f"https://vote.example.org/vote#token={token}" in text_body
        assert len(token) >= 43  # 256 bits
        # The title is escaped in the HTML part, and not in the plain-text part.
        assert "Board election &lt;2027&gt; &amp; more" in html_body
        assert "Board election <2027> & more" in text_body
        assert "(Europe/Zurich)" in text_body and "tracker" in text_body
        response = await mailing.redeem(token)
        assert response.status_code == 200, response.text
        assert response.json()["election_id"] == fixture.id
    # Nothing more to send: a second run does nothing, and invitations are not repeated.
    assert await mailing.send_mail() == {}
    assert await _status_counts(mailing, fixture.id) == {"sent": 3}
    report = await mailing.client.get(
        f"/api/auth/elections/{fixture.id}/mail", headers=owner.headers
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["voters"] == 3 and body["tokens_issued"] == 3 and body["failed_voters"] == 0
    assert body["messages"]["invitation"]["sent"] == 3


async def test_the_raw_tokens_are_stored_nowhere(mailing: VoterWorld, smtp: SmtpServer) -> None:
    fixture = await make_election(mailing.database, mailing.settings)
    await mailing.send_mail()
    tokens = [token_in(mail_text(m)) for m in smtp.sink.messages]
    assert len(set(tokens)) == 3
    async with mailing.database.session() as session:
        dump = []
        for table in ("voter_tokens", "mail_outbox", "dev_mailbox", "audit_log"):
            rows = await session.execute(text(f"SELECT * FROM {table}"))
            dump += [str(tuple(row)) for row in rows]
        stored = set((await session.scalars(select(VoterToken.token_hash))).all())
    everything = "\n".join(dump)
    for token in tokens:
        assert token not in everything
        assert voter_token_hash(mailing.settings.secret_key_bytes, token) in stored
    for voter in fixture.voters:  # the outbox and the audit log hold no address either
        assert voter.email not in everything


async def test_without_smtp_the_mail_job_fills_the_dev_mailbox(
    devmail: VoterWorld, settings: Settings
) -> None:
    assert {"mail", "invitations"} <= set(installed_jobs())
    owner = await devmail.owner("Acme Union", "owner@example.org")
    fixture = await make_election(devmail.database, settings, org=owner.organisation_id)
    handled = await installed_jobs()["mail"].run_once(devmail.database, settings)
    assert handled == 3
    listed = await devmail.client.get(
        f"/api/auth/elections/{fixture.id}/dev-mailbox", headers=owner.headers
    )
    assert listed.status_code == 200, listed.text
    mails = listed.json()["mails"]
    assert len(mails) == 3
    assert {m["to"] for m in mails} == {f"{v.name} <{v.email}>" for v in fixture.voters}
    token = token_in(mails[0]["text"])
    assert (await devmail.redeem(token)).status_code == 200


async def test_the_invitations_job_queues_each_voter_once_even_when_run_in_parallel(
    devmail: VoterWorld, settings: Settings
) -> None:
    fixture = await make_election(devmail.database, settings, voters=20)
    await make_election(devmail.database, settings, voters=2, state="frozen")  # not yet open
    job = installed_jobs()["invitations"]
    counts = await asyncio.gather(*(job.run_once(devmail.database, settings) for _ in range(4)))
    assert sum(counts) == 20
    assert await _status_counts(devmail, fixture.id) == {"pending": 20}


async def test_retries_back_off_and_a_refused_recipient_fails_for_good(
    mailing: VoterWorld, smtp: SmtpServer
) -> None:
    owner = await mailing.owner("Acme Union", "owner@example.org")
    fixture = await make_election(mailing.database, mailing.settings, org=owner.organisation_id)
    _delivered, deferred, refused = fixture.voters
    smtp.sink.defer[deferred.email] = 2
    smtp.sink.refuse.add(refused.email)

    assert await mailing.send_mail() == {"sent": 1, "deferred": 1, "failed": 1}
    async with mailing.database.session() as session:
        retry = await session.scalar(
            select(MailMessage).where(MailMessage.credential == deferred.credential)
        )
        assert retry is not None
        assert retry.status == "pending" and retry.attempts == 1
        assert retry.last_error == "recipient_refused"
        due = retry.next_attempt_at.replace(tzinfo=None)
        first_delay = (due - mailing.ctx.now().replace(tzinfo=None)).total_seconds()
    assert 60 <= first_delay <= 66 + 1  # 60 s plus at most 10 % jitter

    assert await mailing.send_mail() == {}  # not due yet
    mailing.clock.advance(70)
    assert await mailing.send_mail() == {"deferred": 1}  # second refusal: 120 s now
    mailing.clock.advance(70)
    assert await mailing.send_mail() == {}
    mailing.clock.advance(70)
    assert await mailing.send_mail() == {"sent": 1}
    assert len(smtp.sink.to(deferred.email)) == 1
    assert smtp.sink.to(refused.email) == []

    # Each retry issued a fresh token: only the delivered one works.
    (delivered,) = smtp.sink.to(deferred.email)
    assert (await mailing.redeem(token_in(mail_text(delivered)))).status_code == 200

    failures = await mailing.client.get(
        f"/api/auth/elections/{fixture.id}/mail/failures", headers=owner.headers
    )
    assert failures.status_code == 200, failures.text
    (failure,) = failures.json()["failures"]
    assert failure["voter_id"] == refused.id
    assert failure["credential"] == refused.credential
    assert failure["reason"] == "recipient_refused"
    assert failure["kind"] == "invitation"
    report = (
        await mailing.client.get(f"/api/auth/elections/{fixture.id}/mail", headers=owner.headers)
    ).json()
    assert report["failed_voters"] == 1
    assert report["messages"]["invitation"] == {
        "pending": 0,
        "sending": 0,
        "sent": 2,
        "failed": 1,
        "cancelled": 0,
    }
    async with mailing.database.session() as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.mail.failed"))
        ).all()
    assert [e.target for e in entries] == [f"credential:{refused.credential}"]
    assert refused.email not in str(entries[0].details)


async def test_an_unreachable_server_is_retried_then_given_up(
    settings: Settings, serve: Any, clock: FakeClock
) -> None:
    from .voter_support import free_port

    unreachable = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_security": "none"}
    )
    async for world in voter_world(unreachable, serve, clock, mail_max_attempts=2):
        fixture = await make_election(world.database, settings, voters=1)
        assert await world.send_mail() == {"deferred": 1}
        world.clock.advance(3600)
        assert await world.send_mail() == {"failed": 1}
        async with world.database.session() as session:
            message = await session.scalar(
                select(MailMessage).where(MailMessage.election_id == fixture.id)
            )
        assert message is not None
        assert (message.status, message.attempts) == ("failed", 2)
        assert message.last_error == "gave_up:smtp_unreachable"


async def test_a_crashed_workers_claim_lapses_and_another_worker_sends(
    mailing: VoterWorld, smtp: SmtpServer
) -> None:
    await make_election(mailing.database, mailing.settings, voters=2)
    await outbox.enqueue_invitations(mailing.ctx)
    claimed = await outbox.claim(mailing.ctx, limit=10)  # …and then the worker dies
    assert len(claimed) == 2
    assert await outbox.run_until_idle(mailing.ctx) == {}  # still leased
    mailing.clock.advance(mailing.ctx.policy.mail_lease_seconds + 1)
    assert await outbox.run_until_idle(mailing.ctx) == {"sent": 2}
    # The first worker, back from the dead, changes nothing.
    assert await outbox.deliver_one(mailing.ctx, _Unused(), claimed[0]) == "lost"
    assert len(smtp.sink.messages) == 2


class _Unused:
    async def send(self, mail: Any) -> None:
        raise AssertionError("must not send")

    async def close(self) -> None:
        return None


async def test_test_mode_tokens_are_deterministic(
    settings: Settings, serve: Any, clock: FakeClock, smtp: SmtpServer
) -> None:
    seeded = with_smtp(settings, smtp, test_seed="repeatable-seed")
    async for world in voter_world(seeded, serve, clock):
        fixture = await make_election(world.database, settings, voters=2)
        await world.send_mail()
        for voter in fixture.voters:
            (message,) = smtp.sink.to(voter.email)
            expected = deterministic_voter_token(
                "repeatable-seed",
                election_id=fixture.id,
                credential=voter.credential,
                generation=1,
            )
            assert token_in(mail_text(message)) == expected
            assert (await world.redeem(expected)).status_code == 200
        async with world.database.session() as session:
            expiry = await session.scalar(select(func.max(VoterToken.expires_at)))
        assert expiry is not None
        # TEST_MODE: 15 minutes, not until the close two days away.
        lifetime = expiry.replace(tzinfo=None) - world.ctx.now().replace(tzinfo=None)
        assert timedelta(minutes=14) < lifetime <= timedelta(minutes=15)


async def test_prod_mode_refuses_test_mode_and_seeds() -> None:
    from securevote.config import ConfigurationError

    strong = {"secret_key": "k" * 40, "jwt_signing_seed": "A" * 43 + "="}
    with pytest.raises(ConfigurationError, match="TEST_MODE"):
        Settings(mode="prod", test_mode=True, **strong)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="TEST_SEED"):
        Settings(mode="prod", test_seed="s", **strong)  # type: ignore[arg-type]


async def test_resend_replaces_the_token_and_has_a_cooldown(
    mailing: VoterWorld, smtp: SmtpServer
) -> None:
    owner = await mailing.owner("Acme Union", "owner@example.org")
    fixture = await make_election(mailing.database, mailing.settings, org=owner.organisation_id)
    await mailing.send_mail()
    voter = fixture.voters[0]
    (first,) = smtp.sink.to(voter.email)
    old = token_in(mail_text(first))
    url = f"/api/auth/elections/{fixture.id}/voters/{voter.id}/resend"

    too_soon = await mailing.client.post(url, headers=owner.headers)
    assert too_soon.status_code == 429
    assert int(too_soon.headers["Retry-After"]) > 0
    mailing.clock.advance(mailing.ctx.policy.resend_cooldown_seconds + 1)
    accepted = await mailing.client.post(url, headers=owner.headers)
    assert accepted.status_code == 202, accepted.text
    assert (await mailing.client.post(url, headers=owner.headers)).status_code == 429
    assert await mailing.send_mail() == {"sent": 1}
    second = smtp.sink.to(voter.email)[-1]
    assert second["Subject"].startswith("Your new voting link")
    new = token_in(mail_text(second))
    assert new != old
    assert (await mailing.redeem(old)).status_code == 401
    assert (await mailing.redeem(new)).status_code == 200
    missing = await mailing.client.post(
        f"/api/auth/elections/{fixture.id}/voters/999999/resend", headers=owner.headers
    )
    assert missing.status_code == 404


async def test_concurrent_issuance_leaves_exactly_one_valid_token(
    devmail: VoterWorld, settings: Settings
) -> None:
    fixture = await make_election(devmail.database, settings, voters=1)
    credential = fixture.voters[0].credential
    ctx = devmail.ctx

    async def issue_once() -> str:
        async with ctx.database.session() as session:
            found = await election(session, fixture.id)
            voter = await voter_by_credential(session, fixture.id, credential)
            assert found is not None and voter is not None
            issued = await voter_tokens.issue(session, ctx, election=found, voter=voter)
            return issued.token

    tokens = await asyncio.gather(*(issue_once() for _ in range(8)))
    assert len(set(tokens)) == 8
    async with ctx.database.session() as session:
        rows = (await session.scalars(select(VoterToken))).all()
        assert len(rows) == 1 and rows[0].generation == 8
        valid = [t for t in tokens if await voter_tokens.find(session, ctx, t) is not None]
    assert len(valid) == 1
    answers = [(await devmail.redeem(t)).status_code for t in tokens]
    assert sorted(answers) == [200] + [401] * 7


async def test_reminders_go_to_those_who_have_not_voted(
    mailing: VoterWorld, smtp: SmtpServer
) -> None:
    owner = await mailing.owner("Acme Union", "owner@example.org")
    fixture = await make_election(
        mailing.database, mailing.settings, voters=4, org=owner.organisation_id
    )
    voted, refused, *waiting = fixture.voters
    smtp.sink.refuse.add(refused.email)
    await mailing.send_mail()
    await store_ballot(mailing.database, fixture.id, voted.credential)
    url = f"/api/auth/elections/{fixture.id}/reminders"
    response = await mailing.client.post(url, headers=owner.headers)
    assert response.status_code == 202, response.text
    assert response.json() == {"queued": 2}
    again = await mailing.client.post(url, headers=owner.headers)
    assert again.status_code == 429
    assert await mailing.send_mail() == {"sent": 2}
    for voter in waiting:
        reminder = smtp.sink.to(voter.email)[-1]
        assert reminder["Subject"].startswith("Reminder:")
        assert (await mailing.redeem(token_in(mail_text(reminder)))).status_code == 200
    assert len(smtp.sink.to(voted.email)) == 1  # the invitation only


async def test_mail_stops_when_the_election_is_no_longer_open(
    devmail: VoterWorld, settings: Settings
) -> None:
    fixture = await make_election(devmail.database, settings, voters=2)
    await outbox.enqueue_invitations(devmail.ctx)
    async with devmail.database.engine.begin() as connection:
        await connection.execute(
            text("UPDATE elections SET state = 'closed' WHERE id = :id"), {"id": fixture.id}
        )
    assert await outbox.run_until_idle(devmail.ctx) == {"cancelled": 2}
    async with devmail.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(VoterToken)) == 0


# --- who may call what --------------------------------------------------------------------


async def test_role_checks_on_the_organisers_endpoints(
    devmail: VoterWorld, settings: Settings
) -> None:
    owner = await devmail.owner("Acme Union", "owner@example.org")
    admin = await devmail.member(owner, "admin@example.org", Role.ADMIN)
    trustee = await devmail.member(owner, "trustee@example.org", Role.TRUSTEE)
    observer = await devmail.member(owner, "observer@example.org", Role.OBSERVER)
    stranger = await devmail.owner("Other Union", "stranger@example.org")
    fixture = await make_election(devmail.database, settings, org=owner.organisation_id)
    voter_id = fixture.voters[0].id
    base = f"/api/auth/elections/{fixture.id}"
    reads = [("GET", f"{base}/mail")]
    manages = [
        ("GET", f"{base}/mail/failures"),
        ("GET", f"{base}/dev-mailbox"),
        ("POST", f"{base}/invitations"),
        ("POST", f"{base}/voters/{voter_id}/resend"),
        ("POST", f"{base}/reminders"),
    ]
    callers: dict[str, dict[str, str]] = {
        "anonymous": {},
        "voter": voter_headers(settings, fixture.id, fixture.voters[0].credential),
        "stranger": stranger.headers,
        "observer": observer.headers,
        "trustee": trustee.headers,
        "admin": admin.headers,
        "owner": owner.headers,
    }
    expected_read = {"anonymous": 401, "voter": 403, "stranger": 404}
    expected_manage = {**expected_read, "observer": 403, "trustee": 403}
    for name, headers in callers.items():
        for method, url in reads:
            response = await devmail.client.request(method, url, headers=headers)
            assert response.status_code == expected_read.get(name, 200), (name, url)
        for method, url in manages:
            if name in ("admin", "owner"):
                continue
            response = await devmail.client.request(method, url, headers=headers)
            assert response.status_code == expected_manage[name], (name, url, response.text)
    for headers in (admin.headers, owner.headers):
        for url in (f"{base}/mail/failures", f"{base}/dev-mailbox"):
            assert (await devmail.client.get(url, headers=headers)).status_code == 200
    first = await devmail.client.post(f"{base}/invitations", headers=admin.headers)
    assert (first.status_code, first.json()) == (202, {"queued": 3})
    second = await devmail.client.post(f"{base}/invitations", headers=owner.headers)
    assert second.json() == {"queued": 0}
    # An election that does not exist answers like another organisation's.
    missing = await devmail.client.get(
        "/api/auth/elections/00000000-0000-4000-8000-000000000000/mail", headers=owner.headers
    )
    assert missing.status_code == 404


async def test_invitations_need_an_open_election(devmail: VoterWorld, settings: Settings) -> None:
    owner = await devmail.owner("Acme Union", "owner@example.org")
    fixture = await make_election(
        devmail.database, settings, org=owner.organisation_id, state="frozen"
    )
    base = f"/api/auth/elections/{fixture.id}"
    voter_id = fixture.voters[0].id
    for url in (f"{base}/invitations", f"{base}/reminders", f"{base}/voters/{voter_id}/resend"):
        response = await devmail.client.post(url, headers=owner.headers)
        assert response.status_code == 409, url
        assert response.json()["code"] == "election_not_open"


async def test_no_dev_mailbox_in_prod_mode(devmail: VoterWorld, settings: Settings) -> None:
    owner = await devmail.owner("Acme Union", "owner@example.org")
    fixture = await make_election(devmail.database, settings, org=owner.organisation_id)
    prod = settings.model_copy(update={"mode": Mode.PROD})
    devmail.app.state.auth = dataclasses.replace(devmail.ctx, settings=prod)
    response = await devmail.client.get(
        f"/api/auth/elections/{fixture.id}/dev-mailbox", headers=owner.headers
    )
    assert response.status_code == 404
    # …and the worker does not fall back to it either.
    assert await devmail.send_mail() == {}


async def test_several_workers_send_each_mail_exactly_once(
    mailing: VoterWorld, smtp: SmtpServer
) -> None:
    fixture = await make_election(mailing.database, mailing.settings, voters=30)
    sent_before = REGISTRY.get_sample_value("securevote_mail_sent_total", {"outcome": "sent"})
    issued_before = REGISTRY.get_sample_value("securevote_tokens_issued_total")
    await outbox.enqueue_invitations(mailing.ctx)
    results = await asyncio.gather(*(outbox.run_until_idle(mailing.ctx) for _ in range(3)))
    assert sum(result.get("sent", 0) for result in results) == 30
    assert sorted(str(m["To"]).rpartition("<")[2].rstrip(">") for m in smtp.sink.messages) == (
        sorted(v.email for v in fixture.voters)
    )
    sent_after = REGISTRY.get_sample_value("securevote_mail_sent_total", {"outcome": "sent"})
    issued_after = REGISTRY.get_sample_value("securevote_tokens_issued_total")
    assert (sent_after or 0) - (sent_before or 0) == 30
    assert (issued_after or 0) - (issued_before or 0) == 30
