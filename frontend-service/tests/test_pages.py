"""The frontend's pages render as HTML, with every value escaped."""

from __future__ import annotations

from typing import Any

from frontend_service.app import create_app
from frontend_service.pages import templates
from securevote.config import Settings


async def test_the_home_page_is_html_in_english(settings: Settings, serve: Any) -> None:
    async with serve(create_app(settings)) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in response.text
    assert "<h1>secure-vote</h1>" in response.text


def test_templates_escape_what_they_are_given() -> None:
    page = templates.get_template("base.html").render(title='<script>alert("x")</script>')
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page
