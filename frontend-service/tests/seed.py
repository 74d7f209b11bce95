"""Seeding a running server through its public APIs (no database shortcuts), for the
browser tests: an owner, an election with a hostile title, voters, the demo server trustee,
freeze, open, invitations, and the voting links from the dev mailbox."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

HOSTILE = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
PASSWORD = "correct horse battery staple"


class Api:
    def __init__(self, base: str, email: str, password: str = PASSWORD) -> None:
        self.client = httpx.Client(base_url=base, timeout=30)
        tokens = self.client.post(
            "/api/auth/login", json={"email": email, "password": password}
        ).raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {tokens.json()['access_token']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None


def create_election(api: Api, *, title: str, second_factor: str = "none") -> dict[str, Any]:
    now = datetime.now(UTC)
    return dict(
        api.call(
            "POST",
            "/api/elections",
            json={
                "title": title,
                "description": f"Description {HOSTILE}",
                "time_zone": "Europe/Zurich",
                "opens_at": (now + timedelta(hours=1)).isoformat(),
                "closes_at": (now + timedelta(days=2)).isoformat(),
                "settings": {"allow_revoting": False, "second_factor": second_factor},
            },
        )
    )


def add_questions(api: Api, election_id: str) -> None:
    api.call(
        "POST",
        f"/api/elections/{election_id}/questions",
        json={
            "title": f"Chair {HOSTILE}",
            "description": "",
            "kind": "plurality",
            "options": [
                {"title": "Ada Lovelace", "description": ""},
                {"title": f"Mallory {HOSTILE}", "description": ""},
            ],
        },
    )
    api.call(
        "POST",
        f"/api/elections/{election_id}/questions",
        json={
            "title": "Board members",
            "description": "",
            "kind": "k_of_n",
            "min_selections": 1,
            "max_selections": 2,
            "options": [
                {"title": "Grace", "description": ""},
                {"title": "Edsger", "description": ""},
                {"title": "Barbara", "description": ""},
            ],
        },
    )


def import_voters(api: Api, election_id: str, csv: str) -> dict[str, Any]:
    return dict(
        api.call(
            "POST",
            f"/api/elections/{election_id}/voters/import",
            content=csv.encode(),
            headers={"Content-Type": "text/csv"},
        )
    )


def open_with_server_trustee(api: Api, election_id: str) -> None:
    api.call("PUT", f"/api/elections/{election_id}/trustees", json={"server_trustee": True})
    api.call("POST", f"/api/elections/{election_id}/freeze")
    api.call("POST", f"/api/elections/{election_id}/open")


def voting_links(api: Api, election_id: str, expected: int, timeout: float = 60) -> list[str]:
    """Send the invitations and wait for them in the dev mailbox; the voting links."""
    api.call("POST", f"/api/auth/elections/{election_id}/invitations")
    deadline = time.monotonic() + timeout
    while True:
        mails = api.call("GET", f"/api/auth/elections/{election_id}/dev-mailbox")["mails"]
        links = [
            match.group(0)
            for mail in mails
            if (match := re.search(r"https?://\S+/vote#token=[A-Za-z0-9_\-]+", mail["text"]))
        ]
        if len(links) >= expected:
            return links
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(links)} of {expected} invitations arrived")
        time.sleep(0.5)
