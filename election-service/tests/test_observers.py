"""Per-election access: named observers and named trustees.

An account whose organisation role is observer sees only the elections it is named to
observe; one whose role is trustee, only those it is a named ceremony trustee of; owners and
admins see every election of their organisation. Everyone else gets 404 and an empty
listing. Naming observers (owner, admin; at any state) is audited with account ids only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from securevote.audit import AuditEntry

from .ceremony_helpers import make_trustees, name_trustees
from .conftest import OTHER_ORG, Builder

Headers = Callable[..., dict[str, str]]


async def _observe(
    client: httpx.AsyncClient, headers: dict[str, str], election_id: str, *accounts: str
) -> httpx.Response:
    return await client.put(
        f"/api/elections/{election_id}/observers",
        json={"account_ids": list(accounts)},
        headers=headers,
    )


async def _listed(client: httpx.AsyncClient, headers: dict[str, str], **params: str) -> set[str]:
    response = await client.get("/api/elections", headers=headers, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return {item["id"] for item in body["items"]}


async def test_each_caller_lists_and_reads_only_what_it_may_see(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    observed = str((await build.election(title="Observed"))["id"])
    with_trustees = str((await build.election(title="With trustees"))["id"])
    neither = str((await build.election(title="Neither"))["id"])
    everything = {observed, with_trustees, neither}

    observer_id = str(uuid.uuid4())
    outsider_id = str(uuid.uuid4())  # an observer of another organisation
    assert (await _observe(client, build.headers, observed, observer_id, outsider_id)).is_success
    trustees = make_trustees(client, token, with_trustees, count=2)
    assert (await name_trustees(client, build.headers, with_trustees, trustees, 2)).is_success

    callers = {
        "owner": (token("owner"), everything),
        "admin": (token("admin", subject="admin-2"), everything),
        "named-observer": (token("observer", subject=observer_id), {observed}),
        "unnamed-observer": (token("observer", subject=str(uuid.uuid4())), set()),
        "named-trustee": (trustees[1].headers, {with_trustees}),
        "unnamed-trustee": (token("trustee", subject=str(uuid.uuid4())), set()),
        # A named trustee logged in as observer (and vice versa) sees nothing by that role.
        "trustee-as-observer": (token("observer", subject=trustees[0].account_id), set()),
        "observer-as-trustee": (token("trustee", subject=observer_id), set()),
        "other-org": (token("observer", org=OTHER_ORG, subject=outsider_id), set()),
    }
    for caller, (headers, visible) in callers.items():
        assert await _listed(client, headers) == visible, caller
        assert await _listed(client, headers, state="draft") == visible, caller
        assert await _listed(client, headers, state="open") == set(), caller
        for election_id in everything:
            for path in ("", "/readiness", "/ceremony"):
                response = await client.get(f"/api/elections/{election_id}{path}", headers=headers)
                expected = 200 if election_id in visible else 404
                assert response.status_code == expected, (caller, election_id, path)


async def test_a_named_observer_reads_but_cannot_change(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    election_id = str((await build.election())["id"])
    observer_id = str(uuid.uuid4())
    await _observe(client, build.headers, election_id, observer_id)
    observer = token("observer", subject=observer_id)
    base = f"/api/elections/{election_id}"
    assert (await client.get(base, headers=observer)).status_code == 200
    assert (await client.patch(base, json={"title": "Mine"}, headers=observer)).status_code == 403
    assert (await client.delete(base, headers=observer)).status_code == 403
    assert (await client.get(f"{base}/voters", headers=observer)).status_code == 403
    assert (await client.get(f"{base}/observers", headers=observer)).status_code == 403
    assert (await _observe(client, observer, election_id, observer_id)).status_code == 403
    assert (await client.get(base, headers=build.headers)).json()["title"] != "Mine"


async def test_observers_replace_the_list_at_any_state_and_removal_hides_again(
    client: httpx.AsyncClient, build: Builder, token: Headers, app: FastAPI
) -> None:
    election_id = await build.frozen()
    first, second = sorted(str(uuid.uuid4()) for _ in range(2))
    base = f"/api/elections/{election_id}"

    response = await _observe(client, build.headers, election_id, second, first)
    assert response.status_code == 200, response.text
    assert response.json() == {"election_id": election_id, "account_ids": [first, second]}
    listed = await client.get(f"{base}/observers", headers=token("admin"))
    assert listed.json()["account_ids"] == [first, second]
    assert (await client.get(base, headers=token("observer", subject=first))).status_code == 200

    assert (await client.post(f"{base}/open", headers=build.headers)).status_code == 200
    response = await _observe(client, build.headers, election_id, second)
    assert response.status_code == 200, response.text
    assert response.json()["account_ids"] == [second]
    assert (await client.get(base, headers=token("observer", subject=first))).status_code == 404
    assert (await client.get(base, headers=token("observer", subject=second))).status_code == 200
    assert (await _observe(client, build.headers, election_id)).json()["account_ids"] == []
    assert (await client.get(base, headers=token("observer", subject=second))).status_code == 404

    async with app.state.database.session() as session:
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "election.observers.set")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(e.actor, e.target, e.outcome) for e in entries] == [
        ("admin:admin-1", f"election:{election_id}", "success")
    ] * 3
    assert [e.details for e in entries] == [
        {"account_ids": [first, second], "added": [first, second], "removed": []},
        {"account_ids": [second], "added": [], "removed": [first]},
        {"account_ids": [], "added": [], "removed": [second]},
    ]


async def test_observers_input_is_checked(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    election_id = str((await build.election())["id"])
    account = str(uuid.uuid4())
    base = f"/api/elections/{election_id}/observers"
    for body in (
        {"account_ids": [account, account]},
        {"account_ids": ["not-a-uuid"]},
        {"account_ids": [account], "extra": 1},
        {},
    ):
        response = await client.put(base, json=body, headers=build.headers)
        assert response.status_code == 422, body
    missing = f"/api/elections/{uuid.uuid4()}/observers"
    assert (await client.get(missing, headers=build.headers)).status_code == 404
    assert (await _observe(client, build.headers, str(uuid.uuid4()), account)).status_code == 404
    other = token("owner", org=OTHER_ORG)
    assert (await client.get(base, headers=other)).status_code == 404
    assert (await _observe(client, other, election_id, account)).status_code == 404
    assert (await client.get(base, headers=build.headers)).json()["account_ids"] == []
