"""The frontend in process (no browser): pages, headers, CSRF on every form route, the
sealed admin session, and escaping."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from frontend_service import sessions
from frontend_service.admin import router as admin_router
from frontend_service.app import create_app
from frontend_service.pages import router as pages_router
from frontend_service.pages import rule_in_words
from frontend_service.rendering import templates
from frontend_service.security import CONTENT_SECURITY_POLICY, csrf_token_for
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
        for router in (pages_router, admin_router)
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
