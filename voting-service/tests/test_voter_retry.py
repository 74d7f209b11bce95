"""The voter client keeps its receipt when a gateway answers 502/503/504 for a cast that did
land (a replica killed after committing): it retries with the same Idempotency-Key and gets
the receipt of the ballot already on the board, never a second ballot or a lost receipt."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from securevote.config import Settings
from securevote.voter import cast


class LosesTheFirstAnswer(httpx.HTTPTransport):
    """Forwards every request, but replaces the answer to the first cast with a 502."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path.endswith("/cast") and not self.lost:
            response.read()
            response.close()
            self.lost += 1
            return httpx.Response(502, request=request)
        return response


def _vote_through(base: str, token: str) -> tuple[int, Any, list[str]]:
    """Cast through the lossy transport: (answers lost, the outcome, the board's trackers)."""
    transport = LosesTheFirstAnswer()
    with httpx.Client(base_url=base, transport=transport, timeout=30) as client:
        outcome = cast(client, session_token=token, choice_specs=["Chair=ada"])
        page = client.get(f"/api/ballots/elections/{outcome.election_id}/board/ballots").json()
    return transport.lost, outcome, [entry["tracker"] for entry in page["entries"]]


async def test_a_lost_answer_is_retried_and_the_landed_ballot_keeps_its_receipt(
    settings: Settings,
    kit: Any,
    voter: Callable[..., Any],
    tmp_path: Path,
    securevote_cli: Any,
) -> None:
    await kit.election()
    alice = voter()
    with securevote_cli.server(
        ["serve", "voting"], securevote_cli.environment(settings), tmp_path
    ) as base:
        lost, outcome, trackers = await asyncio.to_thread(_vote_through, base, alice.token)
    assert lost == 1
    assert outcome.receipt.board_index == 0
    assert trackers == [outcome.receipt.tracker.hex()]
