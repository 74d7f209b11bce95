"""Resending one voter's link from the console, in process: the frontend finds the voter
on the election's roll by e-mail address and asks the auth service, which keeps its
cooldown (a clock the test moves) and writes the audit entry."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from auth_service import accounts
from auth_service.app import create_app as create_auth_app
from auth_service.policy import TEST_ARGON2, AuthPolicy
from election_service.app import create_app as create_election_app
from frontend_service.app import create_app as create_frontend_app
from securevote.clients import register_peers
from securevote.config import Settings

PASSWORD = "correct horse battery staple"
OWNER = "olivia@example.org"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _client(app: FastAPI) -> httpx.AsyncClient:
    # https: the console's cookies are Secure.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


@asynccontextmanager
async def _services(settings: Settings, clock: Clock) -> AsyncIterator[dict[str, FastAPI]]:
    apps = {
        "auth": create_auth_app(settings, policy=AuthPolicy(argon2=TEST_ARGON2, clock=clock)),
        "election": create_election_app(settings),
        "frontend": create_frontend_app(settings),
    }
    register_peers(apps)
    async with AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(LifespanManager(app))
        yield apps


async def _open_election(api: httpx.AsyncClient, auth: httpx.AsyncClient) -> str:
    """An open election of two voters whose invitations are queued, through the APIs."""

    async def call(client: httpx.AsyncClient, method: str, path: str, **kw: object) -> dict:
        response = await client.request(method, path, **kw)  # type: ignore[arg-type]
        assert response.status_code < 300, response.text
        return response.json() if response.content else {}

    now = datetime.now(UTC)
    election = await call(
        api,
        "POST",
        "/api/elections",
        json={
            "title": "Resend",
            "description": "",
            "time_zone": "UTC",
            "opens_at": (now + timedelta(hours=1)).isoformat(),
            "closes_at": (now + timedelta(days=1)).isoformat(),
            "settings": {"allow_revoting": False, "second_factor": "none"},
        },
    )
    eid = election["id"]
    question = {
        "title": "Yes?",
        "kind": "plurality",
        "options": [{"title": "Yes"}, {"title": "No"}],
    }
    await call(api, "POST", f"/api/elections/{eid}/questions", json=question)
    roll = b"email,name\nann@example.org,Ann\nbob@example.org,Bob\n"
    headers = {"Content-Type": "text/csv"}
    await call(api, "POST", f"/api/elections/{eid}/voters/import", content=roll, headers=headers)
    await call(api, "PUT", f"/api/elections/{eid}/trustees", json={"server_trustee": True})
    await call(api, "POST", f"/api/elections/{eid}/freeze")
    await call(api, "POST", f"/api/elections/{eid}/open")
    assert (await call(auth, "POST", f"/api/auth/elections/{eid}/invitations"))["queued"] == 2
    return str(eid)


async def _resend(browser: httpx.AsyncClient, election_id: str, email: str) -> httpx.Response:
    page = await browser.get(f"/admin/elections/{election_id}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    data = {"csrf_token": token.group(1), "email": email}
    return await browser.post(f"/admin/elections/{election_id}/resend", data=data)


async def test_an_organiser_resends_one_voters_link_by_email(settings: Settings) -> None:
    clock = Clock()
    async with _services(settings, clock) as apps:
        await accounts.create_owner(
            ctx=apps["auth"].state.auth,
            organisation_name="Acme",
            email=OWNER,
            display_name="Olivia",
            password=PASSWORD,
        )
        async with _client(apps["auth"]) as auth, _client(apps["election"]) as api:
            login = await auth.post("/api/auth/login", json={"email": OWNER, "password": PASSWORD})
            bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
            auth.headers.update(bearer)
            api.headers.update(bearer)
            election_id = await _open_election(api, auth)
            async with _client(apps["frontend"]) as browser:
                form = await browser.get("/admin/login")
                token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
                assert token is not None
                signed_in = await browser.post(
                    "/admin/login",
                    data={"csrf_token": token.group(1), "email": OWNER, "password": PASSWORD},
                )
                assert signed_in.status_code == 303

                unknown = await _resend(browser, election_id, "carol@example.org")
                assert unknown.status_code == 404
                assert "No voter with that e-mail address" in unknown.text
                malformed = await _resend(browser, election_id, "not an address")
                assert malformed.status_code == 422
                early = await _resend(browser, election_id, "ann@example.org")
                assert early.status_code == 429  # the invitation was queued just now
                assert "a short while ago" in early.text

                clock.now += apps["auth"].state.auth.policy.resend_cooldown_seconds + 1
                sent = await _resend(browser, election_id, " ANN@example.org ")
                assert sent.status_code == 303
                assert sent.headers["location"].endswith("?done=resent#invitations")
                again = await _resend(browser, election_id, "ann@example.org")
                assert again.status_code == 429

            roll = (await api.get(f"/api/elections/{election_id}/voters")).json()["items"]
            ann = next(v for v in roll if v["email"] == "ann@example.org")
            log = (await api.get(f"/api/elections/{election_id}/audit")).json()["items"]
            resent = [e for e in log if e["action"] == "auth.mail.resend"]
            assert len(resent) == 1
            assert resent[0]["details"]["voter"] == ann["id"]
            assert resent[0]["target"] == "voter"
