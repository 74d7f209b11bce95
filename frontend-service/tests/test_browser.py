"""The pages in a real browser (Debian's Chromium through Playwright) against a real server
(`securevote up` on a loopback port): security headers and CSP, CSRF, escaping of hostile
admin input, keyboard use, a 320 px viewport, the admin console and the voter's whole path
(encrypt in the browser, audit, cast, receipt, check)."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shlex
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy.engine import make_url

from .browser import (
    CHROMIUM_ARGS,
    SCREENSHOTS,
    PageWatch,
    Site,
    axe_source,
    chromium_path,
    running_site,
)
from .seed import (
    HOSTILE,
    PASSWORD,
    Api,
    add_questions,
    create_election,
    import_voters,
    open_with_server_trustee,
    voting_links,
)

VOTERS_CSV = "email,name,date_of_birth\n" + "".join(
    f"voter{i}@example.org,Voter {i},1990-01-{i + 1:02d}\n" for i in range(6)
)
EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_site(tmp_path_factory.mktemp("site")) as running:
        yield running


@pytest.fixture(scope="module")
def postgres_site(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The same server over a fresh schema of the test run's PostgreSQL database."""
    schema = f"browser_{secrets.token_hex(6)}"

    async def create_schema() -> None:
        dsn = make_url(postgres_url).set(drivername="postgresql")
        connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
        try:
            await connection.execute(f"CREATE SCHEMA {schema}")
        finally:
            await connection.close()

    # In a thread: Playwright's sync API may already run an event loop in this one.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, create_schema()).result()
    database = {
        "SECUREVOTE_DATABASE_URL": postgres_url,
        "SECUREVOTE_DATABASE_SCHEMA": schema,
    }
    with running_site(tmp_path_factory.mktemp("postgres-site"), database) as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def any_site(request: pytest.FixtureRequest) -> Site:
    """The whole way runs on both databases; the other tests on SQLite only (each server
    start and its migrations cost seconds)."""
    return request.getfixturevalue("site" if request.param == "sqlite" else "postgres_site")


@pytest.fixture(scope="module")
def browser(postgres_url: str) -> Iterator[Browser]:
    # postgres_url first: it runs asyncio.run, which fails once Playwright's sync API runs an
    # event loop in this thread (the PostgreSQL server is started after the browser).
    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def api(site: Site) -> Api:
    return Api(site.base, site.owner_email)


@pytest.fixture(scope="module")
def open_election(site: Site, api: Api) -> dict[str, Any]:
    """An open election (hostile title, two questions, six voters, demo trustee) and the
    voting links of its invitations."""
    election = create_election(api, title=f"Union vote {HOSTILE}")
    add_questions(api, election["id"])
    report = import_voters(api, election["id"], VOTERS_CSV)
    assert report["imported"] == 6
    open_with_server_trustee(api, election["id"])
    return {"id": election["id"], "links": voting_links(api, election["id"], 6)}


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    yield opened
    context.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def admin_login(page: Page, site: Site) -> None:
    page.goto(f"{site.base}/admin/login")
    page.fill("#email", site.owner_email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{site.base}/admin")


def public_pages(site: Site, election_id: str) -> list[str]:
    return [
        "/",
        "/vote",
        "/admin/login",
        f"/elections/{election_id}",
        f"/elections/{election_id}/board",
        f"/elections/{election_id}/check",
        f"/elections/{election_id}/results",
    ]


# --------------------------------------------------------------------------- headers, CSP


def test_every_response_carries_the_security_headers(
    site: Site, open_election: dict[str, Any]
) -> None:
    with site.http() as http:
        for path in [
            *public_pages(site, open_election["id"]),
            "/static/css/site.css",
            "/static/js/securevote.js",
            "/no-such-page",
        ]:
            response = http.get(path)
            headers = response.headers
            assert headers["content-security-policy"] == EXPECTED_CSP, path
            assert headers["x-content-type-options"] == "nosniff", path
            assert headers["referrer-policy"] == "no-referrer", path
            assert "camera=()" in headers["permissions-policy"], path
            assert headers["x-frame-options"] == "DENY", path
            # Plain http on loopback: no HSTS (it is sent when the site is https).
            assert "strict-transport-security" not in headers, path
            if response.headers["content-type"].startswith("text/html"):
                assert headers["cache-control"] == "no-store", path
                # No inline script or style anywhere: every script has a src.
                assert not re.search(r"<script(?![^>]*\bsrc=)", response.text), path
                assert "<style" not in response.text and " style=" not in response.text, path


def test_pages_load_without_csp_violations_or_third_party_requests(
    site: Site, open_election: dict[str, Any], page: Page
) -> None:
    watch = PageWatch(page)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    for path in public_pages(site, open_election["id"]):
        page.goto(site.base + path)
        page.wait_for_load_state("networkidle")
    admin_login(page, site)
    page.goto(f"{site.base}/admin/elections/{open_election['id']}")
    page.wait_for_load_state("networkidle")
    assert watch.csp_violations() == []
    assert watch.errors == []
    assert all(url.startswith(site.base) for url in requests), requests


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def _axe(page: Page, source: str) -> list[str]:
    """Serious and critical WCAG 2.x A/AA violations on the page as it is now (axe-core is
    evaluated through the driver, so the page's CSP still holds for the page's own code)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_no_serious_accessibility_violations(
    site: Site, open_election: dict[str, Any], page: Page
) -> None:
    source = axe_source()
    found: dict[str, list[str]] = {}
    for path in public_pages(site, open_election["id"]):
        page.goto(site.base + path)
        page.wait_for_load_state("networkidle")
        found[path] = _axe(page, source)
    page.goto(open_election["links"][4])
    expect(page.locator("#step-ballot")).to_be_visible(timeout=30_000)
    found["booth: ballot"] = _axe(page, source)
    page.click("#ballot-form button[type=submit]")  # nothing chosen: the errors show
    found["booth: ballot with errors"] = _axe(page, source)
    page.check("#q0-o0")
    page.check("#q1-o0")
    page.click("#ballot-form button[type=submit]")
    found["booth: review"] = _axe(page, source)
    page.click("#encrypt")
    expect(page.locator("#step-encrypted")).to_be_visible()
    found["booth: encrypted"] = _axe(page, source)
    admin_login(page, site)
    found["/admin"] = _axe(page, source)
    page.goto(f"{site.base}/admin/elections/new")
    found["/admin/elections/new"] = _axe(page, source)
    page.goto(f"{site.base}/admin/elections/{open_election['id']}")
    found["/admin/elections/{id}"] = _axe(page, source)
    assert {path: v for path, v in found.items() if v} == {}


# --------------------------------------------------------------------------- CSRF


def _login_form_post(
    site: Site, *, cookie: str | None, token: str | None, origin: str | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookie is not None:
        headers["Cookie"] = f"sv_csrf={cookie}"
    if origin is not None:
        headers["Origin"] = origin
    data = {"email": site.owner_email, "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    with site.http() as http:
        return http.post("/admin/login", data=data, headers=headers)


def _csrf_pair(site: Site) -> tuple[str, str]:
    with site.http() as http:
        response = http.get("/admin/login")
    cookie = re.search(r"sv_csrf=([^;]+)", response.headers["set-cookie"])
    token = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert cookie and token
    return cookie.group(1), token.group(1)


def test_forms_refuse_a_missing_or_wrong_csrf_token(site: Site) -> None:
    cookie, token = _csrf_pair(site)
    other_cookie, other_token = _csrf_pair(site)
    assert _login_form_post(site, cookie=cookie, token=None).status_code == 403
    assert _login_form_post(site, cookie=None, token=token).status_code == 403
    assert _login_form_post(site, cookie=cookie, token=other_token).status_code == 403
    assert _login_form_post(site, cookie=cookie, token="x" * 43).status_code == 403
    evil = _login_form_post(site, cookie=cookie, token=token, origin="https://evil.example")
    assert evil.status_code == 403
    assert "Form refused" in evil.text
    good = _login_form_post(site, cookie=cookie, token=token, origin=site.base)
    assert good.status_code == 303
    assert good.headers["location"] == "/admin"
    assert other_cookie != cookie


def test_a_form_without_its_token_is_refused_in_the_browser(site: Site, page: Page) -> None:
    admin_login(page, site)
    page.goto(f"{site.base}/admin/elections/new")
    page.evaluate("document.querySelector('main form.stack input[name=csrf_token]').remove()")
    page.fill("#title", "No token")
    page.fill("#opens_at", "2030-01-01T09:00")
    page.fill("#closes_at", "2030-01-02T09:00")
    page.click("form.stack button[type=submit]")
    expect(page.locator("h1")).to_have_text("Form refused")
    page.goto(f"{site.base}/admin")
    expect(page.locator("main")).not_to_contain_text("No token")


def test_session_cookies_are_httponly_strict_and_secure(site: Site, page: Page) -> None:
    admin_login(page, site)
    cookies = {c["name"]: c for c in page.context.cookies()}
    for name in ("sv_admin", "sv_csrf"):
        assert cookies[name]["httpOnly"], name
        assert cookies[name]["sameSite"] == "Strict", name
        assert cookies[name]["secure"], name
    assert page.evaluate("document.cookie") == ""


# --------------------------------------------------------------------------- escaping


def test_hostile_titles_render_as_text(
    site: Site, open_election: dict[str, Any], page: Page
) -> None:
    watch = PageWatch(page)
    election_id = open_election["id"]
    page.goto(f"{site.base}/elections/{election_id}")
    expect(page.locator("h1")).to_have_text(f"Union vote {HOSTILE}")
    expect(page.locator("main")).to_contain_text(f"Chair {HOSTILE}")
    assert page.locator("main img").count() == 0
    assert page.locator("main script").count() == 0
    admin_login(page, site)
    page.goto(f"{site.base}/admin/elections/{election_id}")
    expect(page.locator("h1")).to_have_text(f"Union vote {HOSTILE}")
    assert page.locator("main img").count() == 0
    page.goto(f"{site.base}/admin")
    expect(page.locator("main table")).to_contain_text(HOSTILE)
    # The ballot (built by the booth's script from the API's JSON) too.
    page.goto(open_election["links"][5])
    expect(page.locator("#step-ballot")).to_be_visible(timeout=30_000)
    expect(page.locator("#ballot-title")).to_have_text(f"Union vote {HOSTILE}")
    expect(page.locator("fieldset").first).to_contain_text(f"Mallory {HOSTILE}")
    assert page.locator("#booth img").count() == 0
    assert watch.dialogs == []
    assert watch.csp_violations() == []


# --------------------------------------------------------------------------- the voter


def test_a_voter_audits_then_casts_and_checks_the_ballot(
    site: Site, open_election: dict[str, Any], page: Page
) -> None:
    watch = PageWatch(page)
    sent: list[tuple[str, str]] = []
    page.on("request", lambda r: sent.append((r.url, r.post_data or "")))
    page.goto(open_election["links"][0])
    expect(page.locator("#step-ballot")).to_be_visible(timeout=30_000)
    assert "token" not in page.url  # the fragment is gone from the address bar
    shot(page, "01-ballot")

    # The min/max rule is in words; the ballot refuses too few choices.
    expect(page.locator("#rule-0")).to_have_text("Choose exactly one option.")
    expect(page.locator("#rule-1")).to_have_text("Choose between 1 and 2 options.")
    page.click("#ballot-form button[type=submit]")
    expect(page.locator("#err-0")).to_be_visible()

    page.check("#q0-o0")
    page.check("#q1-o0")
    page.check("#q1-o2")
    page.click("#ballot-form button[type=submit]")
    expect(page.locator("#step-review")).to_be_visible()
    expect(page.locator("#review-list")).to_contain_text("Ada Lovelace")
    expect(page.locator("#review-list")).to_contain_text("Barbara")
    shot(page, "02-review")
    page.click("#encrypt")
    expect(page.locator("#step-encrypted")).to_be_visible()
    audited_tracker = page.locator("#tracker").text_content()
    assert audited_tracker and re.fullmatch(r"[0-9a-f]{64}", audited_tracker)
    shot(page, "03-encrypted")

    # Benaloh audit: the page checks the opened ballot and spoils it.
    page.click("#audit")
    expect(page.locator("#step-audit")).to_be_visible()
    expect(page.locator("#audit-result")).to_contain_text("Check passed")
    expect(page.locator("#audit-choices")).to_contain_text("Ada Lovelace")
    assert re.fullmatch(r"[0-9a-f]{64}", page.locator("#audit-seed").text_content() or "")
    shot(page, "04-audit")

    page.click("#reencrypt")
    page.click("#encrypt")
    expect(page.locator("#step-encrypted")).to_be_visible()
    cast_tracker = page.locator("#tracker").text_content()
    assert cast_tracker != audited_tracker
    page.click("#cast")
    expect(page.locator("#step-receipt")).to_be_visible(timeout=30_000)
    expect(page.locator("#receipt-status")).to_contain_text("checked the board's signature")
    expect(page.locator("#receipt-tracker")).to_have_text(cast_tracker or "")
    shot(page, "05-receipt")

    with page.expect_download() as download_info:
        page.click("#receipt-download")
    receipt = json.loads(Path(download_info.value.path()).read_text())
    assert receipt["format"] == "securevote-receipt/v1"
    assert receipt["receipt"]["tracker"] == cast_tracker

    page.click("#receipt-check")
    expect(page.locator("#check-result .ok")).to_contain_text("Verified", timeout=30_000)
    shot(page, "06-check")

    # The receipt file, checked in the browser: signature, inclusion, consistency.
    receipt_path = Path(download_info.value.path())
    page.set_input_files("#receipt-file", str(receipt_path))
    expect(page.locator("#check-result .ok")).to_contain_text("signed by the board")
    forged = json.loads(receipt_path.read_text())
    forged["receipt"]["tree_size"] += 1
    page.set_input_files(
        "#receipt-file",
        files=[
            {
                "name": "forged.json",
                "mimeType": "application/json",
                "buffer": json.dumps(forged).encode(),
            }
        ],
    )
    expect(page.locator("#check-result .error")).to_contain_text("signature does NOT verify")

    # The plaintext never left the browser: the cast request holds ciphertexts only, the
    # option ids chosen appear only in the spoil request of the audited ballot.
    casts = [body for url, body in sent if url.endswith("/cast")]
    assert len(casts) == 1
    assert '"choices"' not in casts[0] and '"seed"' not in casts[0]
    spoils = [body for url, body in sent if url.endswith("/spoil")]
    assert len(spoils) == 1 and '"seed"' in spoils[0]

    # The receipt checks from the command line too.
    receipt_file = Path(download_info.value.path())
    checked = site.cli("check-receipt", str(receipt_file), "--url", site.base)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The board lists the ballot; the spoiled one is not counted on it.
    page.goto(f"{site.base}/elections/{open_election['id']}/board")
    expect(page.locator("main table")).to_contain_text(cast_tracker or "")
    expect(page.locator("main table")).not_to_contain_text(audited_tracker)
    expect(page.locator("#spoiled")).to_contain_text(audited_tracker)
    assert watch.csp_violations() == [] and watch.errors == []


def test_the_ballot_works_with_the_keyboard_alone(
    site: Site, open_election: dict[str, Any], page: Page
) -> None:
    page.goto(open_election["links"][1])
    expect(page.locator("#step-ballot")).to_be_visible(timeout=30_000)
    # The heading has focus after loading; Tab walks into the first question.
    expect(page.locator("#step-ballot h1")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#q0-o0")).to_be_focused()
    page.keyboard.press("Space")  # radio group: Space selects the focused option
    expect(page.locator("#q0-o0")).to_be_checked()
    page.keyboard.press("Tab")  # leaves the radio group, to the first checkbox
    expect(page.locator("#q1-o0")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    expect(page.locator("#q1-o1")).to_be_checked()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator("#ballot-form button[type=submit]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#step-review")).to_be_visible()
    expect(page.locator("#step-review h1")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#encrypt")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#step-encrypted")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.locator("#cast")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#step-receipt")).to_be_visible(timeout=30_000)
    expect(page.locator("#receipt-status")).to_contain_text("checked the board's signature")
    # The focus is visible: the focused element has an outline.
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")


def test_pages_fit_a_320_pixel_screen(
    site: Site, open_election: dict[str, Any], browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 320, "height": 640})
    page = context.new_page()
    try:
        paths = public_pages(site, open_election["id"])
        for path in paths:
            page.goto(site.base + path)
            page.wait_for_load_state("networkidle")
            assert _no_horizontal_scroll(page), path
        page.goto(open_election["links"][2])
        expect(page.locator("#step-ballot")).to_be_visible(timeout=30_000)
        assert _no_horizontal_scroll(page), "ballot"
        shot(page, "07-ballot-320px")
        admin_login(page, site)
        page.goto(f"{site.base}/admin/elections/{open_election['id']}")
        assert _no_horizontal_scroll(page), "admin election"
    finally:
        context.close()


def _no_horizontal_scroll(page: Page) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


def test_a_voting_link_is_spent_once_the_ballot_is_cast(
    site: Site, open_election: dict[str, Any], page: Page
) -> None:
    link = open_election["links"][3]
    page.goto(link)
    expect(page.locator("#step-ballot")).to_be_visible(timeout=30_000)
    # Opening it again before voting is fine (in the same tab only the fragment changes:
    # the booth redeems the new token and loads the ballot again).
    with page.expect_response(lambda r: r.url.endswith("/context")):
        page.goto(link)
    expect(page.locator("#step-ballot")).to_be_visible(timeout=30_000)
    page.check("#q0-o1")
    page.check("#q1-o1")
    page.click("#ballot-form button[type=submit]")
    page.click("#encrypt")
    page.click("#cast")
    expect(page.locator("#step-receipt")).to_be_visible(timeout=30_000)
    page.goto(link)
    expect(page.locator("#step-error")).to_be_visible(timeout=30_000)
    expect(page.locator("#error-message")).not_to_be_empty()


def test_the_second_factor_is_asked_when_the_election_needs_it(
    site: Site, api: Api, page: Page
) -> None:
    election = create_election(api, title="With date of birth", second_factor="date_of_birth")
    add_questions(api, election["id"])
    import_voters(api, election["id"], "email,date_of_birth\nsecret@example.org,1985-06-15\n")
    open_with_server_trustee(api, election["id"])
    link = voting_links(api, election["id"], 1)[0]
    page.goto(link)
    expect(page.locator("#step-secret")).to_be_visible(timeout=30_000)
    page.fill("#roll-secret", "1985-06-14")
    page.click("#secret-form button[type=submit]")
    expect(page.locator("#roll-secret-error")).to_be_visible()
    page.fill("#roll-secret", "1985-06-15")
    page.click("#secret-form button[type=submit]")
    expect(page.locator("#step-ballot")).to_be_visible(timeout=30_000)


# --------------------------------------------------------------------------- the admin


def test_an_admin_signs_in_and_sets_up_an_election(site: Site, page: Page) -> None:
    watch = PageWatch(page)
    page.goto(f"{site.base}/admin")
    expect(page).to_have_url(f"{site.base}/admin/login")
    page.fill("#email", site.owner_email)
    page.fill("#password", "wrong password!")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("wrong")
    admin_login(page, site)
    shot(page, "10-admin-elections")

    page.click("text=New election")
    page.fill("#title", f"Console {HOSTILE}")
    page.fill("#description", "Made in the browser")
    page.select_option("#time_zone", "Europe/Zurich")
    page.fill("#opens_at", "2030-03-01T09:00")
    page.fill("#closes_at", "2030-03-08T18:00")
    page.click("form.stack button[type=submit]")
    expect(page.locator(".notice.ok")).to_have_text("The election was created.")
    expect(page.locator("h1")).to_have_text(f"Console {HOSTILE}")
    expect(page.locator("main")).to_contain_text("2030-03-01T09:00:00+01:00")

    if not page.locator("#q-title").is_visible():
        page.click("text=Add a question")
    page.fill("#q-title", "Which colour?")
    page.select_option("#q-kind", "plurality")
    page.fill("#q-options", "Red\nGreen\n<b>Blue</b>")
    page.click("text=Add the question")
    expect(page.locator(".notice.ok")).to_have_text("The question was added.")
    expect(page.locator("#question-1")).to_have_text("1. Which colour?")
    expect(page.locator("main")).to_contain_text("<b>Blue</b>")

    csv = Path(__file__).parents[2] / "samples" / "sample-voters.csv"
    broken = csv.read_text() + "X1,Nobody,not-an-address,1990-01-01\n"
    upload = page.locator("#voters-file")
    upload.set_input_files(
        files=[{"name": "voters.csv", "mimeType": "text/csv", "buffer": broken.encode()}]
    )
    page.click("text=Import voters")
    expect(page.locator("#import-report")).to_contain_text("rejected")
    expect(page.locator("#import-report table")).to_contain_text("not a valid email address")
    shot(page, "11-admin-import-report")

    page.click("text=Choose the trustees")
    page.click("text=Demo only: the server as the single trustee")
    expect(page.locator(".notice.ok")).to_have_text("The trustees were set.")
    expect(page.locator("#ceremony-status")).to_have_text("complete")

    page.click("text=Freeze the election")
    expect(page.locator("#election-state")).to_have_text("frozen")
    page.click("text=Open voting now")
    expect(page.locator("#election-state")).to_have_text("open")
    page.click("text=Send invitations")
    expect(page.locator(".notice.ok")).to_have_text("Invitations are queued for sending.")
    expect(page.locator("#invitations ~ p").first).to_contain_text("voters have a voting link")
    shot(page, "12-admin-open")
    page.click("text=Close voting now")
    expect(page.locator("#election-state")).to_have_text("closed")
    page.click("text=Sign out")
    expect(page).to_have_url(f"{site.base}/admin/login")
    page.goto(f"{site.base}/admin")
    expect(page).to_have_url(f"{site.base}/admin/login")
    assert watch.dialogs == [] and watch.csp_violations() == []


# --------------------------------------------------------------------------- the whole way


def _cast(page: Page, link: str, picks: list[str]) -> None:
    page.goto(link)
    expect(page.locator("#step-ballot")).to_be_visible(timeout=30_000)
    for pick in picks:
        page.check(pick)
    page.click("#ballot-form button[type=submit]")
    page.click("#encrypt")
    page.click("#cast")
    expect(page.locator("#receipt-status")).to_contain_text(
        "checked the board's signature", timeout=30_000
    )


def test_from_votes_to_published_results_and_a_verified_record(
    any_site: Site, browser: Browser, tmp_path: Path
) -> None:
    site = any_site
    api = Api(site.base, site.owner_email)
    election = create_election(api, title="Counted in public")
    add_questions(api, election["id"])
    import_voters(api, election["id"], VOTERS_CSV)
    open_with_server_trustee(api, election["id"])
    links = voting_links(api, election["id"], 6)
    ballots = [
        ["#q0-o0", "#q1-o0", "#q1-o1"],  # Ada; Grace, Edsger
        ["#q0-o0", "#q1-o1"],  # Ada; Edsger
        ["#q0-o1", "#q1-o2"],  # Mallory; Barbara
    ]
    for link, picks in zip(links, ballots, strict=False):
        context = browser.new_context()
        _cast(context.new_page(), link, picks)
        context.close()

    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    try:
        admin_login(page, site)
        page.goto(f"{site.base}/admin/elections/{election['id']}")
        page.click("text=Close voting now")
        expect(page.locator("#election-state")).to_have_text("closed")
        page.click("text=Seal the bulletin board")
        expect(page.locator(".notice.ok")).to_have_text("The bulletin board is sealed.")
        page.click("text=Start the tally")
        for _ in range(60):
            if page.locator("text=Publish the results").count():
                break
            page.wait_for_timeout(500)
            page.reload()
        shot(page, "13-admin-tally")
        page.click("text=Publish the results")
        expect(page.locator(".notice.ok")).to_have_text("The results are published.")

        page.goto(f"{site.base}/elections/{election['id']}/results")
        expect(page.locator("#counted-ballots")).to_have_text("3")
        chair = page.locator("table.results").nth(0)
        board = page.locator("table.results").nth(1)
        counts = {
            "chair": [
                chair.locator("tbody tr").nth(i).locator("td").nth(1).inner_text() for i in range(2)
            ],
            "board": [
                board.locator("tbody tr").nth(i).locator("td").nth(1).inner_text() for i in range(3)
            ],
        }
        assert counts == {"chair": ["2", "1"], "board": ["1", "2", "1"]}
        expect(chair.locator("tbody tr").nth(0)).to_contain_text("elected")
        chart = page.locator("img.chart")
        assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
        shot(page, "14-results")

        with page.expect_download() as download_info:
            page.click("#record-link")
        record = tmp_path / "record.zip"
        download_info.value.save_as(record)
        verified = site.cli("verify", str(record))
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        context.close()


def _totp(secret: str, step_offset: int = 0) -> str:
    """RFC 6238 (HMAC-SHA-1, 6 digits, 30 s)."""
    import base64
    import hashlib
    import hmac
    import struct
    import time

    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int(time.time()) // 30 + step_offset
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def test_an_admin_with_totp_is_asked_for_the_code(site: Site, api: Api, page: Page) -> None:
    email = "totp-admin@example.org"
    api.call(
        "POST",
        "/api/auth/accounts",
        json={"email": email, "display_name": "Tess", "role": "admin", "password": PASSWORD},
    )
    own = Api(site.base, email)
    secret = own.call("POST", "/api/auth/totp/enrol", json={"password": PASSWORD})["secret"]
    own.call("POST", "/api/auth/totp/confirm", json={"code": _totp(secret)})

    page.goto(f"{site.base}/admin/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#totp_code")).to_be_visible()
    expect(page.locator("main")).to_contain_text("six-digit code")
    page.fill("#password", PASSWORD)
    page.fill("#totp_code", "000000" if _totp(secret, 1) != "000000" else "111111")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("code is wrong")
    page.fill("#password", PASSWORD)
    page.fill("#totp_code", _totp(secret, 1))  # the next step: the current one was spent
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{site.base}/admin")
    expect(page.locator("main")).to_contain_text("Tess (admin)")


def test_the_console_refreshes_an_expiring_session_on_the_server(
    site: Site, browser: Browser
) -> None:
    from frontend_service import sessions
    from securevote.config import Settings

    tokens = httpx.post(
        f"{site.base}/api/auth/login",
        json={"email": site.owner_email, "password": PASSWORD},
    ).json()
    # The server runs in test mode with the development secret; seal as it would, with an
    # access token that is already expiring.
    settings = Settings(mode="test", test_mode=True, secret_key=None)
    stale = sessions.AdminSession(tokens["access_token"], tokens["refresh_token"], 0.0)
    cookie = {
        "name": "sv_admin",
        "value": sessions.seal(settings, stale),
        "url": site.base,
        "httpOnly": True,
        "secure": True,
        "sameSite": "Strict",
    }
    context = browser.new_context()
    page = context.new_page()
    try:
        context.add_cookies([cookie])  # type: ignore[list-item]
        page.goto(f"{site.base}/admin")
        expect(page.locator("h1")).to_have_text("Elections")
        renewed = next(c for c in context.cookies() if c["name"] == "sv_admin")
        assert renewed["value"] != cookie["value"]
        page.goto(f"{site.base}/admin")
        expect(page.locator("h1")).to_have_text("Elections")
        # The old cookie again: its refresh token was spent, so it is a copy; the auth
        # service revokes the whole login session and the console asks to sign in.
        context.add_cookies([cookie])  # type: ignore[list-item]
        page.goto(f"{site.base}/admin")
        expect(page).to_have_url(f"{site.base}/admin/login")
    finally:
        context.close()


# --------------------------------------------------------------- audit, trustee, TOTP, resend


def _sign_in(page: Page, site: Site, email: str) -> None:
    page.goto(f"{site.base}/admin/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{site.base}/admin")


def _account(api: Api, email: str, role: str, name: str) -> dict[str, Any]:
    body = {"email": email, "display_name": name, "role": role, "password": PASSWORD}
    return dict(api.call("POST", "/api/auth/accounts", json=body))


def _fits_320(page: Page) -> bool:
    """No horizontal scroll with the page as it is, laid out again 320 px wide."""
    size = page.viewport_size
    page.set_viewport_size({"width": 320, "height": 640})
    fits = _no_horizontal_scroll(page)
    if size:
        page.set_viewport_size(size)
    return fits


def test_the_audit_log_page_lists_entries_and_checks_the_chain(
    site: Site, api: Api, open_election: dict[str, Any], browser: Browser
) -> None:
    election_id = open_election["id"]
    observer = _account(api, "olga.observer@example.org", "observer", "Olga")
    api.call(
        "PUT", f"/api/elections/{election_id}/observers", json={"account_ids": [observer["id"]]}
    )
    source = axe_source()
    for email in (site.owner_email, "olga.observer@example.org"):
        context = browser.new_context()
        page = context.new_page()
        watch = PageWatch(page)
        try:
            _sign_in(page, site, email)
            page.goto(f"{site.base}/admin/elections/{election_id}")
            page.click("text=Read this election's audit log")
            expect(page.locator("h1")).to_have_text("Audit log")
            expect(page.locator("main")).to_contain_text(f"Union vote {HOSTILE}")
            entries = page.locator("#audit-entries")
            for action in ("election.create", "ceremony.set_trustees", "auth.voter_token.issue"):
                expect(entries).to_contain_text(action)
            # The issued credentials are left out, and said to be.
            expect(entries).to_contain_text("not shown: credentials")
            if email == site.owner_email:
                expect(entries).to_contain_text("Ada")  # admin:<id> shown by name
            assert _axe(page, source) == []
            page.click("#verify-chain")
            expect(page.locator("#chain-status")).to_contain_text("The chain holds")
            assert _axe(page, source) == []
            assert _fits_320(page)
            shot(page, "15-admin-audit-log")
            assert page.locator("main img, main script").count() == 0
            assert watch.dialogs == [] and watch.csp_violations() == [] and watch.errors == []
        finally:
            context.close()


def _run_shown(site: Site, page: Page, part: str, key_dir: Path) -> list[str]:
    """Run the commands a part of the page shows, exactly as shown (the key file in the
    trustee's own folder)."""
    outputs = []
    for command in page.locator(f"#{part} pre.command code").all_inner_texts():
        words = shlex.split(command)
        assert words[0] == "securevote"
        words = [str(key_dir / w) if w == "trustee.key" else w for w in words[1:]]
        done = site.cli(*words, env={"SECUREVOTE_TRUSTEE_PASSWORD": PASSWORD})
        assert done.returncode == 0, command + "\n" + done.stdout + done.stderr
        outputs.append(done.stdout)
    return outputs


def test_a_trustee_follows_the_ceremony_and_the_tally_in_the_console(
    site: Site, api: Api, browser: Browser, tmp_path: Path
) -> None:
    email = "trudy.trustee@example.org"
    trustee = _account(api, email, "trustee", "Trudy")
    election = create_election(api, title=f"Trustee run {HOSTILE}")
    election_id = election["id"]
    add_questions(api, election_id)
    import_voters(api, election_id, "email\nonly.voter@example.org\n")
    api.call(
        "PUT",
        f"/api/elections/{election_id}/trustees",
        json={"threshold": 1, "trustees": [{"account_id": trustee["id"], "name": "Trudy"}]},
    )
    source = axe_source()
    context = browser.new_context()
    page = context.new_page()
    watch = PageWatch(page)
    try:
        _sign_in(page, site, email)
        expect(page.locator("main")).to_contain_text("you are a trustee of")
        page.locator("main table a").first.click()
        expect(page).to_have_url(f"{site.base}/admin/elections/{election_id}/trustee")
        expect(page.locator("#secrets-note")).to_contain_text("never reach this server")
        expect(page.locator("#trustee-self")).to_contain_text("trustee 1 of 1")
        expect(page.locator("#next-step")).to_contain_text("Create your key file")
        assert page.locator("main form").count() == 0  # read-only: nothing to submit
        assert _axe(page, source) == []
        assert _fits_320(page)
        shot(page, "20-trustee-ceremony-start")
        _run_shown(site, page, "next-part", tmp_path)
        page.reload()
        expect(page.locator("#ceremony-status")).to_have_text("complete")
        expect(page.locator("#next-step")).to_contain_text("The ceremony is complete")
        expect(page.locator("#ceremony-trustees")).to_contain_text("Trudy (you)")
        _run_shown(site, page, "next-part", tmp_path)  # once more, now complete: the key share

        api.call("POST", f"/api/elections/{election_id}/freeze")
        api.call("POST", f"/api/elections/{election_id}/open")
        link = voting_links(api, election_id, 1)[0]
        voter = browser.new_context()
        _cast(voter.new_page(), link, ["#q0-o1", "#q1-o0"])
        voter.close()
        api.call("POST", f"/api/elections/{election_id}/close")
        api.call("POST", f"/api/ballots/elections/{election_id}/board/seal")
        api.call("POST", f"/api/results/elections/{election_id}/tally")
        for _ in range(120):
            if api.call("GET", f"/api/results/elections/{election_id}/tally")["status"] == "done":
                break
            page.wait_for_timeout(500)

        page.reload()
        expect(page.locator("#decrypt-step")).to_contain_text("awaited")
        commands = page.locator("#tally-part pre.command code").all_inner_texts()
        assert len(commands) == 1 and commands[0].startswith("securevote trustee decrypt ")
        assert f"--election {election_id}" in commands[0] and f"--email {email}" in commands[0]
        assert _axe(page, source) == []
        shot(page, "21-trustee-share-awaited")
        _run_shown(site, page, "tally-part", tmp_path)
        page.reload()
        expect(page.locator("#decrypt-step")).to_contain_text("received")
        assert api.call("GET", f"/api/results/elections/{election_id}/tally")["decrypted"]
        assert watch.dialogs == [] and watch.csp_violations() == [] and watch.errors == []
    finally:
        context.close()


def test_an_admin_turns_two_step_sign_in_on_and_off(site: Site, api: Api, browser: Browser) -> None:
    email = "tom.totp@example.org"
    _account(api, email, "admin", "Tom")
    source = axe_source()
    context = browser.new_context()
    page = context.new_page()
    watch = PageWatch(page)
    try:
        _sign_in(page, site, email)
        page.click("header >> text=Account")
        expect(page.locator("#totp-state")).to_have_text("off")
        assert _axe(page, source) == []
        assert _fits_320(page)
        page.fill("#enrol-password", "not my password")
        page.click("text=Set up two-step sign-in")
        expect(page.locator("#page-error")).to_contain_text("wrong")
        page.fill("#enrol-password", PASSWORD)
        page.click("text=Set up two-step sign-in")
        secret = page.locator("#otp-secret").input_value()
        uri = page.locator("#otpauth-uri").input_value()
        assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
        assert _axe(page, source) == []
        assert _fits_320(page)
        shot(page, "16-admin-totp-enrol")
        wrong = "000000" if _totp(secret) != "000000" else "111111"
        page.fill("#confirm-code", wrong)
        page.click("text=Confirm and turn on")
        expect(page.locator("#page-error")).to_contain_text("code is wrong")
        expect(page.locator("#totp-state")).to_have_text("off")
        # Start again: a new secret replaces the pending one.
        page.fill("#enrol-password", PASSWORD)
        page.click("text=Set up two-step sign-in")
        secret = page.locator("#otp-secret").input_value()
        page.fill("#confirm-code", _totp(secret))
        page.click("text=Confirm and turn on")
        expect(page.locator(".notice.ok")).to_contain_text("Two-step sign-in is on")
        expect(page.locator("#totp-state")).to_have_text("on")
        # Signing in now needs a code.
        refused = httpx.post(
            f"{site.base}/api/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert refused.status_code == 401 and refused.json()["code"] == "totp_required"
        page.fill("#disable-password", PASSWORD)
        page.fill("#disable-code", _totp(secret, 1))  # the current step was spent
        page.click("text=Turn two-step sign-in off")
        expect(page.locator(".notice.ok")).to_contain_text("Two-step sign-in is off")
        expect(page.locator("#totp-state")).to_have_text("off")
        assert watch.dialogs == [] and watch.csp_violations() == [] and watch.errors == []
    finally:
        context.close()


def test_an_admin_resends_one_voters_link_from_the_console(
    site: Site, api: Api, page: Page
) -> None:
    """The form in the browser; the accepted resend after the cooldown is in
    test_console_resend (it moves the auth service's clock)."""
    election = create_election(api, title="Resend from the console")
    add_questions(api, election["id"])
    import_voters(api, election["id"], "email\nrita@example.org\n")
    open_with_server_trustee(api, election["id"])
    voting_links(api, election["id"], 1)
    admin_login(page, site)
    page.goto(f"{site.base}/admin/elections/{election['id']}")
    page.fill("#resend-email", "nobody@example.org")
    page.click("text=Send a new link")
    expect(page.locator("#page-error")).to_contain_text("No voter with that e-mail address")
    page.fill("#resend-email", "RITA@example.org")  # found case-insensitively; mailed just now
    page.click("text=Send a new link")
    expect(page.locator("#page-error")).to_contain_text("a short while ago")
    assert _fits_320(page)
    assert _axe(page, axe_source()) == []
    shot(page, "17-admin-resend")
