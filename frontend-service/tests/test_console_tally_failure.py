"""A failed tally in the console, in process with every service: voters cast through the
real APIs, a stored ballot is corrupted behind the board's back, the tally started from the
console stops as failed and the page says why (escaped), when and what to do; an observer sees
it without the restart form and is refused if they post it anyway; the owner repairs the row,
restarts the tally from the console and it finishes."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text

from auth_service import accounts
from auth_service.app import create_app as create_auth_app
from auth_service.outbox import run_mail_job
from auth_service.policy import TEST_ARGON2, AuthPolicy
from election_service.app import create_app as create_election_app
from frontend_service.app import create_app as create_frontend_app
from frontend_service.rendering import templates
from results_service.app import create_app as create_results_app
from securevote.ballots import encrypt_ballot
from securevote.clients import register_peers
from securevote.config import Settings
from securevote.db import Database
from securevote.record import context_from_documents
from securevote.voter import session_claims
from voting_service.app import create_app as create_voting_app

PASSWORD = "correct horse battery staple"
OWNER = "olivia@example.org"
OBSERVER = "oscar@example.org"
BAD_POINT = "ff" * 32  # its top bit is set: not a canonical ristretto255 encoding
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGE_ERROR = re.compile(r'id="page-error">(.+?)</p>')
LINK_TOKEN = re.compile(r"/vote#token=([A-Za-z0-9_-]+)")


def _client(app: FastAPI) -> httpx.AsyncClient:
    # https: the console's cookies are Secure.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


@asynccontextmanager
async def _services(settings: Settings) -> AsyncIterator[dict[str, FastAPI]]:
    """Every service app in this process (no background jobs: each step runs when the test
    says; the tally's own background task runs inside the results call)."""
    apps = {
        "auth": create_auth_app(settings, policy=AuthPolicy(argon2=TEST_ARGON2)),
        "election": create_election_app(settings),
        "voting": create_voting_app(settings),
        "results": create_results_app(settings),
        "frontend": create_frontend_app(settings),
    }
    register_peers(apps)
    async with AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(LifespanManager(app))
        yield apps


async def _call(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> Any:
    response = await client.request(method, path, **kw)
    assert response.status_code < 300, (path, response.text)
    return response.json() if response.content else {}


async def _closed_election(
    api: dict[str, httpx.AsyncClient], database: Database, settings: Settings
) -> str:
    """An election with the demo server trustee where three voters cast through the APIs
    (invitation mail, redeem, encrypt here, cast), then closed and its board sealed."""
    now = datetime.now(UTC)
    election = await _call(
        api["election"],
        "POST",
        "/api/elections",
        json={
            "title": "Tally failure",
            "description": "",
            "time_zone": "Europe/Zurich",
            "opens_at": (now + timedelta(hours=1)).isoformat(),
            "closes_at": (now + timedelta(days=1)).isoformat(),
            "settings": {"allow_revoting": False, "second_factor": "none"},
        },
    )
    eid = str(election["id"])
    question = {
        "title": "Yes?",
        "kind": "plurality",
        "options": [{"title": "Yes"}, {"title": "No"}],
    }
    roll = b"email,name\nann@example.org,Ann\nbob@example.org,Bob\ncid@example.org,Cid\n"
    for method, path, kw in (
        ("POST", f"/api/elections/{eid}/questions", {"json": question}),
        ("POST", f"/api/elections/{eid}/voters/import",
         {"content": roll, "headers": {"Content-Type": "text/csv"}}),
        ("PUT", f"/api/elections/{eid}/trustees", {"json": {"server_trustee": True}}),
        ("POST", f"/api/elections/{eid}/freeze", {}),
        ("POST", f"/api/elections/{eid}/open", {}),
    ):  # fmt: skip
        await _call(api["election"], method, path, **kw)
    await _call(api["auth"], "POST", f"/api/auth/elections/{eid}/invitations")
    await run_mail_job(database, settings)
    mails = (await _call(api["auth"], "GET", f"/api/auth/elections/{eid}/dev-mailbox"))["mails"]
    links = [m.group(1) for mail in mails if (m := LINK_TOKEN.search(mail["text"]))]
    assert len(links) == 3

    document = await _call(api["voting"], "GET", f"/api/ballots/elections/{eid}/context")
    context = context_from_documents(
        manifest=document["manifest"],
        trustees=document["trustees"],
        threshold=document["threshold"],
    )
    assert context.election_hash.hex() == document["election_hash"]
    chosen = context.manifest.questions[0]
    for n, link in enumerate(links):
        redeemed = await _call(api["auth"], "POST", "/api/auth/voter/redeem", json={"token": link})
        session = redeemed["session_token"]
        ballot, _seed = encrypt_ballot(
            manifest=context.manifest,
            public_key=context.joint_key,
            election_hash=context.election_hash,
            credential=session_claims(session)["cred"],
            choices={chosen.id: [chosen.options[n % 2].id]},
        )
        await _call(
            api["voting"],
            "POST",
            f"/api/ballots/elections/{eid}/cast",
            json={"ballot": ballot.to_json()},
            headers={
                "Authorization": f"Bearer {session}",
                "Idempotency-Key": secrets.token_urlsafe(24),
            },
        )
    await _call(api["election"], "POST", f"/api/elections/{eid}/close")
    await _call(api["voting"], "POST", f"/api/ballots/elections/{eid}/board/seal")
    return eid


async def _stored_ballot(database: Database, election_id: str) -> tuple[int, str]:
    """The first counted ballot on the board: its index and its stored JSON."""
    async with database.session() as session:
        row = (
            await session.execute(
                text(
                    "SELECT b.board_index, b.ballot FROM ballots AS b JOIN counted_ballots AS c "
                    "ON c.election_id = b.election_id AND c.board_index = b.board_index "
                    "WHERE b.election_id = :id ORDER BY b.board_index LIMIT 1"
                ),
                {"id": election_id},
            )
        ).one()
    return int(row.board_index), str(row.ballot)


async def _rewrite_ballot(database: Database, election_id: str, index: int, ballot: str) -> None:
    """Change a stored ballot as corruption (or a database superuser) would: the board's
    append-only trigger is bypassed, which the application itself can never do."""
    async with database.session() as session:
        if database.dialect == "postgresql":
            await session.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            await session.execute(text("DROP TRIGGER IF EXISTS ballots_no_update"))
        await session.execute(
            text("UPDATE ballots SET ballot = :b WHERE election_id = :id AND board_index = :i"),
            {"b": ballot, "id": election_id, "i": index},
        )


async def _sign_in(browser: httpx.AsyncClient, email: str) -> None:
    form = await browser.get("/admin/login")
    token = CSRF.search(form.text)
    assert token is not None
    data = {"csrf_token": token.group(1), "email": email, "password": PASSWORD}
    assert (await browser.post("/admin/login", data=data)).status_code == 303


async def _post_form(browser: httpx.AsyncClient, election_id: str, action: str) -> httpx.Response:
    """Post the console's form for ``action`` with the token of the page it is on."""
    page = await browser.get(f"/admin/elections/{election_id}")
    token = CSRF.search(page.text)
    assert token is not None
    return await browser.post(
        f"/admin/elections/{election_id}/{action}", data={"csrf_token": token.group(1)}
    )


async def test_a_failed_tally_is_shown_and_restarted_from_the_console(
    settings: Settings, database: Database
) -> None:
    async with _services(settings) as apps:
        await accounts.create_owner(
            ctx=apps["auth"].state.auth,
            organisation_name="Acme",
            email=OWNER,
            display_name="Olivia",
            password=PASSWORD,
        )
        api = {name: _client(apps[name]) for name in ("auth", "election", "voting")}
        async with api["auth"], api["election"], api["voting"]:
            login = await _call(
                api["auth"], "POST", "/api/auth/login", json={"email": OWNER, "password": PASSWORD}
            )
            for client in api.values():
                client.headers["Authorization"] = f"Bearer {login['access_token']}"
            eid = await _closed_election(api, database, settings)
            observer = await _call(
                api["auth"],
                "POST",
                "/api/auth/accounts",
                json={
                    "email": OBSERVER,
                    "display_name": "Oscar",
                    "role": "observer",
                    "password": PASSWORD,
                },
            )
            await _call(
                api["election"],
                "PUT",
                f"/api/elections/{eid}/observers",
                json={"account_ids": [observer["id"]]},
            )
        index, original = await _stored_ballot(database, eid)
        broken = json.loads(original)
        broken["questions"][0]["selections"][0]["ciphertext"]["pad"] = BAD_POINT
        await _rewrite_ballot(database, eid, index, json.dumps(broken))
        reason = (
            f"The counted ballot at board index {index} cannot be added: "
            "non-canonical point encoding."
        )

        async with _client(apps["frontend"]) as owner, _client(apps["frontend"]) as oscar:
            await _sign_in(owner, OWNER)
            started = await _post_form(owner, eid, "tally")
            assert started.status_code == 303
            page = (await owner.get(started.headers["location"])).text
            assert '<dd id="tally-status">failed</dd>' in page
            assert "The tally stopped" in page
            assert f'<span id="tally-failure-reason">{reason}</span>' in page
            assert re.search(r"On \d{4}-\d\d-\d\d \d\d:\d\d \(Europe/Zurich\)", page)
            assert "Fix the cause, then restart the tally" in page
            assert f'action="/admin/elections/{eid}/tally-restart"' in page
            assert "Restart the tally</button>" in page
            assert "Publish the results" not in page
            assert BAD_POINT not in page

            # An observer sees the failure, not the form; posting it anyway gets the API's no.
            await _sign_in(oscar, OBSERVER)
            watched = (await oscar.get(f"/admin/elections/{eid}")).text
            assert f'<span id="tally-failure-reason">{reason}</span>' in watched
            assert "tally-restart" not in watched
            assert "An owner or administrator of the organisation restarts" in watched
            refused = await _post_form(oscar, eid, "tally-restart")
            assert refused.status_code == 403
            error = PAGE_ERROR.search(refused.text)
            assert error is not None and error.group(1)  # the results service's words
            assert '<dd id="tally-status">failed</dd>' in refused.text

            # Restarting while the cause is there stops again, with the same reason.
            again = await _post_form(owner, eid, "tally-restart")
            assert again.status_code == 303
            page = (await owner.get(again.headers["location"])).text
            assert "The tally starts over from the first ballot." in page
            assert f'<span id="tally-failure-reason">{reason}</span>' in page

            # The cause fixed, the restart goes through to the end (the demo server trustee
            # decrypts at once) and the results can be published.
            await _rewrite_ballot(database, eid, index, original)
            restarted = await _post_form(owner, eid, "tally-restart")
            assert restarted.status_code == 303
            assert restarted.headers["location"].endswith("?done=tally-restart")
            page = (await owner.get(restarted.headers["location"])).text
            assert '<dd id="tally-status">done</dd>' in page
            assert "<dd>3 of 3</dd>" in page
            assert "tally-failure" not in page and "tally-restart-form" not in page
            assert "Publish the results" in page


def test_the_failure_reason_is_rendered_escaped() -> None:
    """The reason comes from the results service in fixed words; the page escapes it anyway."""
    fragment = templates.get_template("admin/_tally_failed.html")
    context = {
        "tally": {"failure": HOSTILE, "failed_at_local": "2026-11-26 06:10"},
        "election": {"id": "e1", "time_zone": "Europe/Zurich"},
        "csrf_token": "t",
    }
    for can_edit in (True, False):
        html = fragment.render(**context, can_edit=can_edit)
        assert HOSTILE not in html and "<script>" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img" in html
        assert ("Restart the tally</button>" in html) is can_edit
