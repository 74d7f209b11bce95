"""Who reaches which results endpoint: the rule every service shares
(``securevote.election_access``). Owners and admins of the organisation see every election;
trustees and observers only the elections they are named for; to anyone else the election
does not exist (404, never 403). A reader without the role an action needs gets 403."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from election_service.models import ElectionObserver
from securevote.db import Database

RESULTS = "/api/results/elections/{}"

CALLERS = (
    "owner",
    "admin",
    "named trustee",
    "named observer",
    "unnamed trustee",
    "unnamed observer",
    "owner of another organisation",
    "named trustee, token of another organisation",
)
READ = (200, 200, 200, 200, 404, 404, 404, 404)
# endpoint -> (method, path, expected status per caller, in CALLERS order)
MATRIX: dict[str, tuple[str, str, tuple[int, ...]]] = {
    "progress": ("GET", "tally", READ),
    "aggregate": ("GET", "aggregate", READ),
    "refused shares": ("GET", "shares/rejected", READ),
    "start the tally": ("POST", "tally", (202, 202, 403, 403, 404, 404, 404, 404)),
    "restart the tally": ("POST", "tally/restart", (202, 202, 403, 403, 404, 404, 404, 404)),
    # not decrypted yet: an owner or admin is told so; nobody else may publish
    "publish": ("POST", "publish", (409, 409, 403, 403, 404, 404, 404, 404)),
    # trustee 2's shares: only trustee 2 may post them (trustee 1 is refused with 403)
    "post shares": ("POST", "shares", (403, 403, 403, 403, 404, 404, 404, 404)),
}


def _callers(flows: Any, tokens: Callable[..., dict[str, str]]) -> dict[str, dict[str, str]]:
    return dict(
        zip(
            CALLERS,
            (
                tokens("owner"),
                tokens("admin", subject="admin-2"),
                flows.trustee(1),
                tokens("observer", subject="acct-observer-1"),
                tokens("trustee", subject="acct-stranger"),
                tokens("observer", subject="acct-observer-2"),
                tokens("owner", org="org-other"),
                tokens("trustee", subject="acct-trustee-1", org="org-other"),
            ),
            strict=True,
        )
    )


async def test_every_results_endpoint_applies_the_per_election_rule(
    client: httpx.AsyncClient,
    flows: Any,
    tokens: Callable[..., dict[str, str]],
    election_factory: Callable[..., Any],
    database: Database,
) -> None:
    election = await election_factory()
    async with database.session() as session:
        session.add(ElectionObserver(election_id=election.id, account_id="acct-observer-1"))
    await flows.vote_and_close(election)
    base = RESULTS.format(election.id)
    assert (await client.post(f"{base}/tally", headers=tokens("owner"))).status_code == 202
    aggregate = (await client.get(f"{base}/aggregate", headers=tokens("owner"))).json()
    shares_of_2 = election.share_body(2, aggregate["aggregate"])
    unknown = RESULTS.format(uuid.uuid4())
    callers = _callers(flows, tokens)

    seen = {}
    for name, (method, path, _) in MATRIX.items():
        for who in CALLERS:
            body = shares_of_2 if path == "shares" else None
            response = await client.request(
                method, f"{base}/{path}", headers=callers[who], json=body
            )
            seen[(name, who)] = response.status_code
            if response.status_code == 404:
                # The same answer as for an election that does not exist.
                missing = await client.request(
                    method, f"{unknown}/{path}", headers=callers[who], json=body
                )
                same = {k: v for k, v in response.json().items() if k != "request_id"}
                assert missing.status_code == 404
                assert {k: v for k, v in missing.json().items() if k != "request_id"} == same
    wanted = {
        (name, who): want
        for name, (_, _, expected) in MATRIX.items()
        for who, want in zip(CALLERS, expected, strict=True)
    }
    assert seen == wanted
    # The named trustee's 403 on trustee 2's shares is about the seat, not the role.
    posing = await client.post(f"{base}/shares", headers=callers["named trustee"], json=shares_of_2)
    assert posing.json()["code"] == "not_this_trustee"


async def test_naming_an_observer_is_what_opens_the_election_to_them(
    client: httpx.AsyncClient,
    flows: Any,
    tokens: Callable[..., dict[str, str]],
    election_factory: Callable[..., Any],
    database: Database,
) -> None:
    election = await election_factory()
    progress = f"{RESULTS.format(election.id)}/tally"
    observer = tokens("observer", subject="acct-observer-3")
    assert (await client.get(progress, headers=observer)).status_code == 404
    async with database.session() as session:
        session.add(ElectionObserver(election_id=election.id, account_id="acct-observer-3"))
    answer = await client.get(progress, headers=observer)
    assert answer.status_code == 200 and answer.json()["status"] == "not_started"
