"""The frontend in process (no browser): pages, headers, CSRF on every form route, the
sealed admin session, and escaping."""

from __future__ import annotations

import re
from typing import Any

import httpx
from starlette.routing import Route

from frontend_service import sessions
from frontend_service.account import router as account_router
from frontend_service.admin import router as admin_router
from frontend_service.app import create_app
from frontend_service.pages import router as pages_router
from frontend_service.pages import rule_in_words
from frontend_service.rendering import templates
from frontend_service.security import CONTENT_SECURITY_POLICY, csrf_token_for
from frontend_service.trustee import router as trustee_router
from securevote.config import Settings


async def test_the_home_page_is_html_in_english(settings: Settings, serve: Any) -> None:
    async with serve(create_app(settings)) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in response.text
    assert "<h1>secure-vote</h1>" in response.text
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    cookie = response.headers["set-cookie"]
    assert "sv_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" in cookie


async def test_hsts_is_sent_when_the_site_is_https(settings: Settings, serve: Any) -> None:
    https = settings.model_copy(update={"public_url": "https://vote.example"})
    async with serve(create_app(https)) as client:
        response = await client.get("/")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_every_unsafe_route_refuses_a_request_without_a_csrf_token(
    settings: Settings, serve: Any
) -> None:
    app = create_app(settings)
    unsafe = [
        (method, route.path)
        for router in (pages_router, admin_router, account_router, trustee_router)
        for route in router.routes
        if isinstance(route, Route)
        for method in (route.methods or set())
        if method in {"POST", "PUT", "PATCH", "DELETE"}
    ]
    assert len(unsafe) >= 10
    uuid = "00000000-0000-4000-8000-000000000000"
    async with serve(app) as client:
        for method, path in unsafe:
            url = (
                path.replace("{election_id}", uuid)
                .replace("{question_id}", uuid)
                .replace("{action}", "freeze")
            )
            # no cookie, no token
            response = await client.request(method, url, data={"x": "1"})
            assert response.status_code == 403, (method, path)
            # a cookie but a token for another cookie
            client.cookies.set("sv_csrf", "A" * 43)
            response = await client.request(
                method, url, data={"csrf_token": csrf_token_for(settings, "B" * 43)}
            )
            assert response.status_code == 403, (method, path)
            assert "Form refused" in response.text
            client.cookies.clear()


async def test_a_valid_token_from_another_site_is_refused(settings: Settings, serve: Any) -> None:
    async with serve(create_app(settings)) as client:
        cookie = "C" * 43
        client.cookies.set("sv_csrf", cookie)
        data = {"csrf_token": csrf_token_for(settings, cookie), "email": "a@b.c", "password": "x"}
        cross = await client.post(
            "/admin/login", data=data, headers={"Origin": "https://evil.example"}
        )
        assert cross.status_code == 403
        fetched = await client.post(
            "/admin/login", data=data, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert fetched.status_code == 403


def test_the_admin_session_is_sealed(settings: Settings) -> None:
    session = sessions.AdminSession("access.jwt.token", "refresh-token", 1_900_000_000.0)
    sealed = sessions.seal(settings, session)
    assert "refresh-token" not in sealed and "access" not in sealed
    assert sessions.unseal(settings, sealed) == session
    # every change is detected
    for i in range(0, len(sealed), 7):
        flipped = sealed[:i] + ("A" if sealed[i] != "A" else "B") + sealed[i + 1 :]
        assert sessions.unseal(settings, flipped) is None
    other = settings.model_copy(update={"secret_key": None, "jwt_signing_seed": None})
    if other.secret_key_bytes != settings.secret_key_bytes:
        assert sessions.unseal(other, sealed) is None
    assert sessions.unseal(settings, "") is None
    assert sessions.unseal(settings, "not base64 !!") is None


async def test_admin_pages_send_a_signed_out_browser_to_the_login(
    settings: Settings, serve: Any
) -> None:
    async with serve(create_app(settings)) as client:
        response = await client.get("/admin", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/login"
        client.cookies.set("sv_admin", "forged")
        response = await client.get("/admin/elections/new", follow_redirects=False)
        assert response.headers["location"] == "/admin/login"


def test_the_selection_rule_in_words() -> None:
    assert rule_in_words(1, 1, 3) == "Choose exactly one option."
    assert rule_in_words(2, 2, 3) == "Choose exactly 2 options."
    assert rule_in_words(0, 3, 3) == "Choose any number of options, or none."
    assert rule_in_words(0, 1, 3) == "Choose at most one option."
    assert rule_in_words(0, 2, 3) == "Choose up to 2 options."
    assert rule_in_words(1, 2, 3) == "Choose between 1 and 2 options."


def test_templates_escape_what_they_are_given() -> None:
    page = templates.get_template("base.html").render(title='<script>alert("x")</script>')
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page


async def test_two_browsers_signing_in_get_separate_rate_limit_buckets(
    settings: Settings,
) -> None:
    """The frontend passes the browser's address on, and the auth service believes it from
    a peer in the same process: one browser's failures do not lock the other out."""
    from asgi_lifespan import LifespanManager

    from auth_service.app import create_app as create_auth_app
    from securevote.clients import register_peers

    frontend, auth = create_app(settings), create_auth_app(settings)
    register_peers({"frontend": frontend, "auth": auth})
    limit = auth.state.auth.policy.address_attempts

    async def attempt(client: httpx.AsyncClient, n: int) -> httpx.Response:
        form = await client.get("/admin/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        data = {"csrf_token": token.group(1), "email": f"x{n}@example.org", "password": "nope"}
        return await client.post("/admin/login", data=data)

    async with LifespanManager(frontend), LifespanManager(auth):
        a = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=frontend, client=("198.51.100.1", 5000)),
            base_url="https://testserver",
        )
        b = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=frontend, client=("198.51.100.2", 5000)),
            base_url="https://testserver",
        )
        async with a, b:
            first = [(await attempt(a, n)).status_code for n in range(limit)]
            blocked = await attempt(a, limit)
            other = await attempt(b, limit + 1)
    assert first == [401] * limit
    assert "Too many attempts" in blocked.text
    assert other.status_code == 401 and "Too many attempts" not in other.text


def test_the_trustee_page_names_the_next_step_at_every_stage() -> None:
    from frontend_service.trustee import ceremony_step, tally_step

    cmd = {"keygen": "K", "ceremony": "C", "decrypt": "D"}
    me = {
        "index": 2,
        "registered": True,
        "committed": False,
        "verification": "pending",
        "disqualified": False,
    }

    def step(status: str, mine: dict[str, Any] | None = me, complaints: Any = ()) -> Any:
        return ceremony_step({"status": status, "complaints": list(complaints)}, mine, cmd)

    assert step("not_configured").commands == ()
    assert "restart" in step("failed").text and step("failed").commands == ()
    assert step("registering", None).commands == ()
    assert step("registering", {**me, "registered": False}).commands == ("K", "C")
    assert "other trustees to register" in step("registering").text
    assert "deals your shares" in step("dealing").text
    assert "checks the shares" in step("verifying", {**me, "committed": True}).text
    against = [{"accused": 2, "status": "open"}, {"accused": 1, "status": "open"}]
    done = {**me, "committed": True, "verification": "ok"}
    assert "complaint names you" in step("complaints", done, against).text
    answered = [{"accused": 2, "status": "answered"}]
    assert "done your part" in step("complaints", done, answered).text
    assert step("complete", {**me, "disqualified": True}).commands == ()
    assert step("complete").commands == ("C",)

    tally = {"status": "done", "shares_from": [1], "decrypted": False}
    assert "not added up" in tally_step({**tally, "status": "running"}, 2, cmd).text
    failed = tally_step({**tally, "status": "failed"}, 2, cmd)
    assert "restart it once the cause is fixed" in failed.text and failed.commands == ()
    assert tally_step(tally, 2, cmd).commands == ("D",)
    assert "received" in tally_step(tally, 1, cmd).text
    assert "not needed" in tally_step({**tally, "decrypted": True}, 2, cmd).text
    assert tally_step(None, 2, cmd).commands == ()
