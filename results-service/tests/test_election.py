"""A whole election through the APIs: votes (with a re-vote and a spoiled ballot), close,
seal, tally, trustees 1 and 3 of 3 decrypt (k = 2; trustee 2 never shows up, trustee 3 first
posts a bad share), publish, results equal the plain count, and the record verifies."""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from results_service.models import RejectedShare
from securevote.audit import AuditEntry, verify_chain
from securevote.crypto.group import Point
from securevote.db import Database
from securevote.verify import verify_record

RESULTS = "/api/results/elections/{}"


async def test_a_whole_election_two_of_three_trustees_published_and_verified(
    client: httpx.AsyncClient,
    flows: Any,
    tokens: Callable[..., dict[str, str]],
    election_factory: Callable[..., Any],
    database: Database,
    tmp_path: Path,
) -> None:
    election = await election_factory()
    base = RESULTS.format(election.id)
    await flows.vote_and_close(election)

    # Before the tally: no aggregate; trustees cannot post.
    owner = tokens("owner")
    early = await client.get(f"{base}/aggregate", headers=flows.trustee(1))
    assert early.status_code == 409
    started = await client.post(f"{base}/tally", headers=owner)
    assert started.status_code == 202, started.text
    again = await client.post(f"{base}/tally", headers=owner)
    assert again.status_code == 202 and again.json()["status"] == "done"
    progress = (await client.get(f"{base}/tally", headers=owner)).json()
    assert progress["status"] == "done"
    assert (progress["processed"], progress["total"]) == (5, 5)  # 6 on the board, 1 superseded
    assert progress["board_size"] == 6
    state = (await client.get(f"/api/elections/{election.id}", headers=owner)).json()["state"]
    assert state == "tallied"

    aggregate = (await client.get(f"{base}/aggregate", headers=flows.trustee(1))).json()
    assert aggregate["threshold"] == 2 and aggregate["ballots"] == 5
    keys = [(e["question"], e["option"]) for e in aggregate["aggregate"]]
    assert keys == [("chair", "ada"), ("chair", "grace"), ("chair", "alan"), ("motions", "m1"),
                    ("motions", "m2")]  # fmt: skip

    # Trustee 1 posts valid shares; one trustee is not enough.
    body1 = election.share_body(1, aggregate["aggregate"])
    first = await client.post(f"{base}/shares", json=body1, headers=flows.trustee(1))
    assert first.status_code == 201, first.text
    assert first.json() == {"trustee": 1, "shares_from": [1], "threshold": 2, "decrypted": False}
    # A second set from the same trustee is refused by the database's constraint.
    twice = await client.post(f"{base}/shares", json=body1, headers=flows.trustee(1))
    assert twice.status_code == 409
    # Trustee 1 cannot post as trustee 3.
    posing = election.share_body(3, aggregate["aggregate"])
    assert (
        await client.post(f"{base}/shares", json=posing, headers=flows.trustee(1))
    ).status_code == 403

    # Trustee 3 first posts a bad share (another point): refused and recorded.
    bad = election.share_body(3, aggregate["aggregate"])
    bad["shares"][1]["share"] = (
        Point.from_hex(bad["shares"][1]["share"])
        .__add__(Point.from_hex(bad["shares"][0]["share"]))
        .hex()
    )
    refused = await client.post(f"{base}/shares", json=bad, headers=flows.trustee(3))
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "invalid_share"
    async with database.session() as session:
        rejected = list(await session.scalars(select(RejectedShare)))
    assert [(r.trustee_index, r.submitted_by) for r in rejected] == [(3, "admin:acct-trustee-3")]
    listed = (await client.get(f"{base}/shares/rejected", headers=owner)).json()
    assert listed[0]["trustee"] == 3 and "does not verify" in listed[0]["reason"]

    # Still hidden: nobody sees results before publication.
    for path in ("results", "results.csv", "results.svg", "record"):
        assert (await client.get(f"{base}/{path}", headers=owner)).status_code == 404

    good = election.share_body(3, aggregate["aggregate"])
    second = await client.post(f"{base}/shares", json=good, headers=flows.trustee(3))
    assert second.status_code == 201, second.text
    assert second.json()["decrypted"] is True
    for path in ("results", "results.csv", "results.svg", "record"):
        assert (await client.get(f"{base}/{path}", headers=owner)).status_code == 404

    # Publication: only an owner or admin of the organisation (the election's own trustee
    # reads it but may not publish; test_access.py has every role and endpoint).
    assert (await client.post(f"{base}/publish", headers=flows.trustee(1))).status_code == 403
    assert (
        await client.post(f"{base}/publish", headers=tokens("owner", org="org-other"))
    ).status_code == 404
    published = await client.post(f"{base}/publish", headers=owner)
    assert published.status_code == 200, published.text
    assert published.json()["already_published"] is False
    assert (await client.post(f"{base}/publish", headers=owner)).json()["already_published"]
    state = (await client.get(f"/api/elections/{election.id}", headers=owner)).json()["state"]
    assert state == "published"

    # The results equal the plain count of what the voters chose (the re-vote counts).
    document = (await client.get(f"{base}/results")).json()
    expected = election.expected_counts()
    got = {
        (q["question"], o["option"]): o["count"]
        for q in document["questions"]
        for o in q["options"]
    }
    assert got == expected
    assert expected[("chair", "grace")] == 3 and expected[("chair", "ada")] == 1
    chair = document["questions"][0]
    assert chair["winners"] == ["grace"] and chair["tie"] is False
    motions = document["questions"][1]
    assert sorted(motions["winners"]) == ["m1", "m2"]  # 3 and 3 votes, 2 seats: both win
    assert document["turnout"] == {"counted_ballots": 5, "eligible_voters": 6, "percent": 83.33}
    assert document["reconciliation"] == {
        "eligible_voters": 6,
        "counted_ballots": 5,
        "voters_marked_as_voted": 5,
        "receipts_issued": 6,
        "superseded_ballots": 1,
        "spoiled_ballots": 1,
        "consistent": True,
    }
    assert document["decryption"] == {"threshold": 2, "trustees": [1, 3]}

    rows = list(csv.reader(io.StringIO((await client.get(f"{base}/results.csv")).text)))
    assert rows[0][:5] == ["question", "question_label", "option", "option_label", "count"]
    grace = ["chair", "Chair", "grace", "Grace <Hopper> & co", "3", "60.00", "60.00", "winner"]
    assert grace in rows
    svg = await client.get(f"{base}/results.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "Grace &lt;Hopper&gt; &amp; co" in svg.text and "<Hopper>" not in svg.text

    # The record: anyone can download it, and it verifies completely.
    record = await client.get(f"{base}/record")
    assert record.status_code == 200
    path = tmp_path / "record.zip"
    path.write_bytes(record.content)
    report = verify_record(path, workers=1)
    assert report.ok, [c for c in report.checks if not c.ok]
    with zipfile.ZipFile(path) as archive:
        assert archive.read("board/ballots.jsonl").count(b"\n") == 6

    # Audit: tally start and finish, each share (the refusal too), publication.
    async with database.session() as session:
        actions = list(
            await session.execute(
                select(AuditEntry.action, AuditEntry.outcome, func.count())
                .where(AuditEntry.service == "results")
                .group_by(AuditEntry.action, AuditEntry.outcome)
            )
        )
        chain = await verify_chain(session)
    assert {(a, o): n for a, o, n in actions} == {
        ("tally.start", "success"): 1,
        ("tally.finish", "success"): 1,
        ("tally.share", "success"): 2,
        ("tally.share", "failure"): 1,
        ("tally.decrypt", "success"): 1,
        ("results.publish", "success"): 1,
    }
    assert chain.ok


async def test_a_mutated_record_fails_verification(
    client: httpx.AsyncClient,
    flows: Any,
    tokens: Callable[..., dict[str, str]],
    election_factory: Callable[..., Any],
    tmp_path: Path,
) -> None:
    election = await election_factory()
    await flows.vote_and_close(election)
    await flows.tally_and_decrypt(election)
    base = RESULTS.format(election.id)
    assert (await client.post(f"{base}/publish", headers=tokens("owner"))).status_code == 200
    original = tmp_path / "record.zip"
    original.write_bytes((await client.get(f"{base}/record")).content)
    assert verify_record(original, workers=1).ok

    def mutate(name: str, change: Callable[[bytes], bytes]) -> Path:
        target = tmp_path / f"mutated-{name.replace('/', '-')}.zip"
        with zipfile.ZipFile(original) as source, zipfile.ZipFile(target, "w") as out:
            for item in source.infolist():
                content = source.read(item.filename)
                out.writestr(item, change(content) if item.filename == name else content)
        return target

    # One count changed, one ballot dropped from the board, one aggregate swapped.
    results = mutate("results.json", lambda b: b.replace(b'"count":3', b'"count":4', 1))
    board = mutate("board/ballots.jsonl", lambda b: b"".join(b.splitlines(keepends=True)[1:]))
    aggregate = mutate(
        "tally/aggregate.json", lambda b: b.replace(b'"option":"ada"', b'"option":"alan"', 1)
    )
    for path in (results, board, aggregate):
        assert not verify_record(path, workers=1).ok, path.name


async def test_results_are_hidden_from_every_role_before_publication(
    client: httpx.AsyncClient,
    flows: Any,
    tokens: Callable[..., dict[str, str]],
    election_factory: Callable[..., Any],
) -> None:
    election = await election_factory()
    await flows.vote_and_close(election)
    await flows.tally_and_decrypt(election)
    base = RESULTS.format(election.id)
    callers = {
        "anonymous": tokens("anonymous"),
        "voter": tokens("voter", election_id=election.id, credential=election.credentials[0]),
        "trustee": flows.trustee(1),
        "observer": tokens("observer"),
        "admin": tokens("admin"),
        "owner": tokens("owner"),
        "other organisation": tokens("owner", org="org-other"),
    }
    for who, headers in callers.items():
        for path in ("results", "results.csv", "results.svg", "record"):
            response = await client.get(f"{base}/{path}", headers=headers)
            assert response.status_code == 404, (who, path)
            assert "count" not in response.text
    # The aggregate and progress are for the organisation's admins only.
    for who in ("anonymous", "voter"):
        assert (await client.get(f"{base}/tally", headers=callers[who])).status_code in (401, 403)
    other = await client.get(f"{base}/tally", headers=callers["other organisation"])
    assert other.status_code == 404
    # After publication everyone sees them.
    assert (await client.post(f"{base}/publish", headers=tokens("admin"))).status_code == 200
    for who, headers in callers.items():
        assert (await client.get(f"{base}/results", headers=headers)).status_code == 200, who


async def test_no_tally_before_the_election_is_closed_and_the_board_sealed(
    client: httpx.AsyncClient,
    flows: Any,
    tokens: Callable[..., dict[str, str]],
    election_factory: Callable[..., Any],
) -> None:
    election = await election_factory()
    base = RESULTS.format(election.id)
    owner = tokens("owner")
    await flows.cast(election, election.credentials[0], flows.VOTES[0])
    refused = await client.post(f"{base}/tally", headers=owner)
    assert refused.status_code == 409 and refused.json()["code"] == "not_closed"
    assert (await client.post(f"/api/elections/{election.id}/close", headers=owner)).is_success
    unsealed = await client.post(f"{base}/tally", headers=owner)
    assert unsealed.status_code == 409 and unsealed.json()["code"] == "board_not_sealed"
    assert (await client.post(f"{base}/tally", headers=flows.trustee(1))).status_code == 403
    progress = (await client.get(f"{base}/tally", headers=owner)).json()
    assert progress["status"] == "not_started"


async def test_concurrent_tally_workers_add_every_batch_exactly_once(
    client: httpx.AsyncClient,
    flows: Any,
    tokens: Callable[..., dict[str, str]],
    election_factory: Callable[..., Any],
    database: Database,
) -> None:
    from results_service import service
    from securevote.auth import Principal, PrincipalKind, Role
    from securevote.ballots import aggregate_ballots
    from securevote.record import aggregate_document

    election = await election_factory(voters=9)
    choices = [flows.VOTES[i % len(flows.VOTES)] for i in range(9)]
    for credential, choice in zip(election.credentials, choices, strict=True):
        await flows.cast(election, credential, choice)
    owner = tokens("owner")
    assert (await client.post(f"/api/elections/{election.id}/close", headers=owner)).is_success
    sealed = await client.post(f"/api/ballots/elections/{election.id}/board/seal", headers=owner)
    assert sealed.status_code == 200
    admin = Principal(
        kind=PrincipalKind.ADMIN,
        subject="admin-1",
        token_id="t",
        expires_at=2**40,
        organisation_id="org-main",
        roles=frozenset({Role.OWNER}),
    )
    view, created = await service.start_tally(database, election_id=election.id, principal=admin)
    assert created and view.total == 9
    await asyncio.gather(
        *(service.run_tally(database, election_id=election.id, batch_size=2) for _ in range(3))
    )
    progress = await service.tally_view(database, election_id=election.id, principal=admin)
    tally = progress[0]
    assert tally is not None and (tally.status, tally.processed, tally.total) == ("done", 9, 9)
    board = (await client.get(f"/api/ballots/elections/{election.id}/board/ballots")).json()
    from securevote.ballots import EncryptedBallot

    ballots = [EncryptedBallot.from_json(e["ballot"]) for e in board["entries"]]
    expected = aggregate_document(aggregate_ballots(ballots, election.context.manifest))
    aggregate = await service.aggregate_view(database, election_id=election.id, principal=admin)
    assert aggregate.aggregate == expected


async def test_demo_mode_the_server_trustee_decrypts_the_tally_alone(
    client: httpx.AsyncClient,
    flows: Any,
    tokens: Callable[..., dict[str, str]],
    election_factory: Callable[..., Any],
    database: Database,
) -> None:
    """With the demo server trustee (n = k = 1) the service computes its share itself; here
    the key share comes from the test (the election service supplies it in a deployment, see
    results_service.server_trustee)."""
    from results_service import service

    election = await election_factory(server_trustee=True)
    await flows.vote_and_close(election)
    base = RESULTS.format(election.id)
    assert (await client.post(f"{base}/tally", headers=tokens("owner"))).status_code == 202
    outcome = await service.server_trustee_share(
        database, election_id=election.id, key_share=election.key_shares[1]
    )
    assert outcome is not None and outcome.decrypted and outcome.received == [1]
    again = await service.server_trustee_share(
        database, election_id=election.id, key_share=election.key_shares[1]
    )
    assert again is None  # once only
    assert (await client.post(f"{base}/publish", headers=tokens("owner"))).status_code == 200
    document = (await client.get(f"{base}/results")).json()
    got = {(q["question"], o["option"]): o["count"] for q in document["questions"]
           for o in q["options"]}  # fmt: skip
    assert got == election.expected_counts()
