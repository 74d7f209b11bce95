"""The key ceremony through the API: three trustees with k = 2, each running its own side
with the real threshold code; a bad share and its complaint; the context fixed at freezing;
questions changed after the ceremony; the demo server trustee."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from election_service.ceremony import STALE_MESSAGE
from election_service.models import CeremonyStep, Election, ServerTrusteeKey
from election_service.schemas import SERVER_TRUSTEE_NAME
from election_service.server_trustee import ServerTrusteeKeyError, server_trustee_key_share
from securevote.audit import AuditEntry
from securevote.config import Settings
from securevote.crypto.elgamal import discrete_log, encrypt
from securevote.crypto.group import Point, Scalar
from securevote.crypto.threshold import (
    KeyShare,
    TrusteeCommitment,
    combine_decryption_shares,
    compute_decryption_share,
    deal,
    generate_box_keypair,
    public_share,
)
from securevote.db import Database
from securevote.record import context_from_documents

from .ceremony_helpers import Trustee, make_trustees, name_trustees, run_ceremony
from .conftest import OBSERVER_ID, QUESTION, Builder, roll_csv

Headers = Callable[..., dict[str, str]]


async def _draft(build: Builder) -> str:
    election_id = str((await build.election())["id"])
    await build.question(election_id)
    await build.voters(election_id, roll_csv(3))
    return election_id


async def _ceremony(
    client: httpx.AsyncClient, election_id: str, headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.get(f"/api/elections/{election_id}/ceremony", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _audit(app: FastAPI) -> list[AuditEntry]:
    async with app.state.database.session() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def _secrets(trustees: list[Trustee]) -> set[str]:
    found = set()
    for trustee in trustees:
        found.add(trustee.box_secret.hex())
        if trustee.dealing is not None:
            found.update(c.hex() for c in trustee.dealing.polynomial)
        if trustee.key_share is not None:
            found.add(trustee.key_share.secret.hex())
    return found


async def test_three_trustees_two_needed_through_the_api(
    client: httpx.AsyncClient, build: Builder, token: Headers, app: FastAPI
) -> None:
    owner = token("owner")
    election_id = await _draft(build)
    trustees = make_trustees(client, token, election_id)
    named = await name_trustees(client, owner, election_id, trustees, threshold=2)
    assert named.status_code == 200, named.text
    assert named.json()["status"] == "registering"
    assert "1 (Alice), 2 (Bob), 3 (Carol)" in named.json()["detail"]

    # Dealing needs every box key first.
    await trustees[0].register()
    early = await client.post(
        f"{trustees[0].base}/dealing",
        json={
            "ceremony_hash": "00" * 32,
            "commitment": {
                "index": 1,
                "coefficients": ["00" * 32],
                "proof": {"challenge": "00" * 32, "response": "00" * 32},
            },
            "shares": [],
        },
        headers=trustees[0].headers,
    )
    assert early.status_code == 409 and "2 (Bob), 3 (Carol)" in early.json()["detail"]
    for trustee in trustees[1:]:
        assert (await trustee.register()).status_code == 200
    await build.observe(election_id)  # a named observer follows the progress
    state = await _ceremony(client, election_id, token("observer", subject=OBSERVER_ID))
    assert state["status"] == "dealing" and state["ceremony_hash"]
    assert [t["registered"] for t in state["trustees"]] == [True, True, True]

    for trustee in trustees:
        response = await trustee.deal()
        assert response.status_code == 200, response.text
    assert (await trustees[0].state())["status"] == "verifying"
    for trustee in trustees[:2]:
        assert (await trustee.verify()).status_code == 200
    almost = await _ceremony(client, election_id, owner)
    assert almost["status"] == "verifying" and "3 (Carol)" in almost["detail"]
    assert almost["joint_public_key"] is None
    assert (await trustees[2].verify()).status_code == 200

    done = await _ceremony(client, election_id, owner)
    assert done["status"] == "complete" and done["complaints"] == []
    commitments = [TrusteeCommitment.from_json(t["commitment"]) for t in done["trustees"]]
    joint = Point.from_hex(done["joint_public_key"])
    for trustee in trustees:
        assert trustee.key_share is not None
        assert trustee.key_share.public == public_share(
            commitments=commitments, index=trustee.index
        )

    # Any two trustees decrypt, with the real threshold code.
    ciphertext = encrypt(message=7, public_key=joint, nonce=Scalar.random())
    election_hash = bytes.fromhex(done["election_hash"])
    shares = {
        t.index: compute_decryption_share(
            key_share=t.key_share,  # type: ignore[arg-type]
            ciphertext=ciphertext,
            election_hash=election_hash,
            label="test",
        ).share
        for t in trustees
    }
    for pair in combinations(shares, 2):
        combined = combine_decryption_shares(
            ciphertext=ciphertext, shares={i: shares[i] for i in pair}, threshold=2
        )
        assert discrete_log(combined) == 7

    # Freezing fixes the context and the election hash in the same UPDATE.
    frozen = await client.post(f"/api/elections/{election_id}/freeze", headers=owner)
    assert frozen.status_code == 200, frozen.text
    assert frozen.json()["joint_public_key"] == done["joint_public_key"]
    assert frozen.json()["election_hash"] == done["election_hash"]
    assert frozen.json()["server_trustee"] is False
    async with app.state.database.session() as session:
        election = await session.get(Election, election_id)
        assert election is not None
        document, stored_hash = election.context_document, election.election_hash
    assert document is not None and set(document) == {"manifest", "trustees", "threshold"}
    context = context_from_documents(**document)
    assert context.election_hash.hex() == stored_hash == done["election_hash"]
    assert context.problems() == []
    assert context.joint_key == joint
    assert [t["name"] for t in document["trustees"]] == ["Alice", "Bob", "Carol"]
    assert document["manifest"]["election_id"] == election_id
    assert document["manifest"]["questions"][0]["label"] == QUESTION["title"]

    # After freezing the ceremony is fixed too.
    again = await trustees[0].register()
    assert again.status_code == 409
    restart = await client.post(f"/api/elections/{election_id}/ceremony/restart", headers=owner)
    assert restart.status_code == 409

    # Every step was audited, and never with a secret.
    entries = await _audit(app)
    actions = [e.action for e in entries if e.action.startswith("ceremony.")]
    assert actions.count("ceremony.register") == 3
    assert actions.count("ceremony.deal") == 3
    assert actions.count("ceremony.verify") == 3
    assert actions[0] == "ceremony.set_trustees" and actions[-1] == "ceremony.complete"
    freeze = next(e for e in entries if e.action == "election.freeze" and e.outcome == "success")
    assert freeze.details["election_hash"] == stored_hash
    written = json.dumps([e.details for e in entries])
    for secret in _secrets(trustees):
        assert secret not in written


async def test_a_bad_share_is_named_and_its_sender_disqualified(
    client: httpx.AsyncClient, build: Builder, token: Headers, app: FastAPI
) -> None:
    owner = token("owner")
    election_id = await _draft(build)
    trustees = make_trustees(client, token, election_id)
    await name_trustees(client, owner, election_id, trustees, threshold=2)
    for trustee in trustees:
        await trustee.register()
    alice, bob, carol = trustees
    assert (await alice.deal(tamper_with=2)).status_code == 200  # a share that does not match
    for trustee in (bob, carol):
        assert (await trustee.deal()).status_code == 200
    for trustee in trustees:
        assert (await trustee.verify()).status_code == 200
    assert bob.key_share is None
    assert [(c.accused, c.reason) for c in bob.complaints] == [
        (1, "share does not match commitments")
    ]
    state = await _ceremony(client, election_id, owner)
    assert state["status"] == "complaints"
    assert state["complaints"] == [
        {
            "accuser": 2,
            "accused": 1,
            "reason": "share does not match commitments",
            "status": "open",
            "revealed_share": None,
        }
    ]
    assert "trustee 1 (Alice) to answer the complaint of trustee 2" in state["detail"]

    # Only the accused answers; Alice reveals the bad share again: disqualified.
    wrong = await carol.answer(2)
    assert wrong.status_code == 404
    response = await alice.answer(2, share=Scalar(alice.share_for(2).value + 1))
    assert response.status_code == 200, response.text
    failed = response.json()
    assert failed["status"] == "failed" and failed["disqualified"] == [1]
    assert "Trustee 1 (Alice) was found cheating" in failed["detail"]
    assert failed["trustees"][0]["disqualified"] is True
    assert failed["joint_public_key"] is None
    refused = await client.post(f"/api/elections/{election_id}/freeze", headers=owner)
    assert refused.status_code == 409
    missing = refused.json()["missing"]
    assert any(m.startswith("key ceremony failed: Trustee 1 (Alice)") for m in missing)
    assert (await alice.answer(2)).status_code == 409  # answered already, differently

    # The organiser names new trustees: a fresh ceremony.
    replacement = make_trustees(client, token, election_id, count=2)
    renamed = await name_trustees(client, owner, election_id, replacement, threshold=2)
    assert renamed.json()["status"] == "registering"
    assert renamed.json()["complaints"] == [] and renamed.json()["disqualified"] == []
    entries = await _audit(app)
    answer = next(e for e in entries if e.action == "ceremony.answer")
    assert answer.details == {"trustee": 1, "accuser": 2, "resolution": "disqualified"}


async def test_a_complaint_answered_with_the_right_share_completes_the_ceremony(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    owner = token("owner")
    election_id = await _draft(build)
    trustees = make_trustees(client, token, election_id)
    await name_trustees(client, owner, election_id, trustees, threshold=2)
    for trustee in trustees:
        await trustee.register()
    alice, bob, carol = trustees
    await alice.deal(tamper_with=3)
    await bob.deal()
    await carol.deal()
    for trustee in trustees:
        await trustee.verify()
    assert carol.key_share is None
    answered = await alice.answer(3)  # the right share, revealed publicly
    assert answered.status_code == 200
    state = answered.json()
    assert state["status"] == "complete"
    assert state["complaints"][0]["status"] == "answered"
    assert state["complaints"][0]["revealed_share"] == alice.share_for(3).hex()
    # Carol's key share, with the revealed share in place of the bad one.
    commitments = [TrusteeCommitment.from_json(t["commitment"]) for t in state["trustees"]]
    assert alice.dealing is not None and bob.dealing is not None and carol.dealing is not None
    secret = sum(t.share_for(3).value for t in trustees)
    assert KeyShare(3, Scalar(secret)).public == public_share(commitments=commitments, index=3)
    assert (await alice.answer(3)).status_code == 200  # the same answer again: a no-op


async def test_steps_are_checked_and_happen_once(
    client: httpx.AsyncClient, build: Builder, token: Headers, app: FastAPI
) -> None:
    owner = token("owner")
    election_id = await _draft(build)
    trustees = make_trustees(client, token, election_id)
    await name_trustees(client, owner, election_id, trustees, threshold=2)
    alice, bob, carol = trustees

    assert (await alice.register()).status_code == 200
    assert (await alice.register()).status_code == 200  # the same key again: a no-op
    other = alice.box_public
    alice.box_public = bob.box_public
    assert (await alice.register()).status_code == 409  # another key: refused
    alice.box_public = other
    bob.box_public = alice.box_public
    shared_key = await bob.register()
    assert shared_key.status_code == 422  # two trustees cannot share a box key
    bob.box_public, bob.box_secret = generate_box_keypair()
    assert (await bob.register()).status_code == 200
    assert (await carol.register()).status_code == 200

    # Bob acting as Carol, a trustee who is not named: refused.
    as_carol = await client.put(
        f"{carol.base}/box-key", json={"box_public_key": "11" * 32}, headers=bob.headers
    )
    assert as_carol.status_code == 403

    params = await alice.params()
    dealing = deal(params=params, index=1)
    body = alice.dealing_body(params, dealing)
    bad_proof = json.loads(json.dumps(body))
    bad_proof["commitment"]["proof"]["response"] = Scalar.random().hex()
    response = await client.post(f"{alice.base}/dealing", json=bad_proof, headers=alice.headers)
    assert response.status_code == 422 and "proof of knowledge" in response.json()["detail"]
    wrong_hash = {**body, "ceremony_hash": "ab" * 32}
    response = await client.post(f"{alice.base}/dealing", json=wrong_hash, headers=alice.headers)
    assert response.status_code == 409 and "fetch them again" in response.json()["detail"]
    missing_share = {**body, "shares": body["shares"][:1]}
    response = await client.post(f"{alice.base}/dealing", json=missing_share, headers=alice.headers)
    assert response.status_code == 422
    not_hex = {**body, "shares": [{**body["shares"][0], "sealed_box": "XYZ"}, body["shares"][1]]}
    response = await client.post(f"{alice.base}/dealing", json=not_hex, headers=alice.headers)
    assert response.status_code == 422
    assert "XYZ" not in response.text
    ok = await client.post(f"{alice.base}/dealing", json=body, headers=alice.headers)
    assert ok.status_code == 200
    same = await client.post(f"{alice.base}/dealing", json=body, headers=alice.headers)
    assert same.status_code == 200  # a retry of the same step
    other_dealing = alice.dealing_body(params, deal(params=params, index=1))
    twice = await client.post(f"{alice.base}/dealing", json=other_dealing, headers=alice.headers)
    assert twice.status_code == 409
    early = await client.post(
        f"{alice.base}/verification",
        json={"ceremony_hash": params.ceremony_hash.hex(), "result": "ok"},
        headers=alice.headers,
    )
    assert early.status_code == 409  # the others have not dealt
    shares = await client.get(f"{bob.base}/shares", headers=bob.headers)
    assert [s["sender"] for s in shares.json()["shares"]] == [1]
    peek = await client.get(f"{bob.base}/shares", headers=alice.headers)
    assert peek.status_code == 403

    failures = [e for e in await _audit(app) if e.outcome == "failure"]
    assert [(e.action, e.details["trustee"]) for e in failures] == [
        ("ceremony.register", 2),
        ("ceremony.deal", 1),
        ("ceremony.deal", 1),
    ]

    # The database itself allows each step once.
    with pytest.raises(IntegrityError):
        async with app.state.database.session() as session:
            await session.execute(
                insert(CeremonyStep).values(
                    election_id=election_id,
                    trustee_index=1,
                    step="deal",
                    payload={},
                    created_at=datetime.now(UTC),
                )
            )


async def test_questions_changed_after_the_ceremony_refuse_freezing(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    owner = token("owner")
    election_id = await _draft(build)
    await run_ceremony(client, token, election_id)
    state = await _ceremony(client, election_id, owner)
    assert state["stale"] is False
    await build.question(election_id, {**QUESTION, "title": "A second question"})
    stale = await _ceremony(client, election_id, owner)
    assert stale["status"] == "complete" and stale["stale"] is True
    assert STALE_MESSAGE in stale["detail"]
    assert len(stale["manifest"]["questions"]) == 1  # the manifest the key is for
    refused = await client.post(f"/api/elections/{election_id}/freeze", headers=owner)
    assert refused.status_code == 409
    assert refused.json()["missing"] == ["key ceremony is for an older version of the questions"]
    readiness = await client.get(f"/api/elections/{election_id}/readiness", headers=owner)
    assert readiness.json()["missing"] == [STALE_MESSAGE]

    # A title change changes the manifest as well; a restart and a new ceremony fix it.
    restarted = await client.post(f"/api/elections/{election_id}/ceremony/restart", headers=owner)
    assert restarted.json()["status"] == "registering"
    assert restarted.json()["joint_public_key"] is None
    assert restarted.json()["ceremony_id"] != state["ceremony_id"]
    trustees = await run_ceremony(client, token, election_id)
    assert len((await trustees[0].state())["manifest"]["questions"]) == 2
    frozen = await client.post(f"/api/elections/{election_id}/freeze", headers=owner)
    assert frozen.status_code == 200, frozen.text


async def test_changing_the_trustee_numbers_drops_the_trustees(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    owner = token("owner")
    election_id = await _draft(build)
    await run_ceremony(client, token, election_id)
    response = await client.patch(
        f"/api/elections/{election_id}",
        json={"trustee_count": 3, "threshold": 3},
        headers=owner,
    )
    assert response.status_code == 200
    assert response.json()["joint_public_key"] is None
    state = await _ceremony(client, election_id, owner)
    assert state["status"] == "not_configured" and state["trustees"] == []
    refused = await client.post(f"/api/elections/{election_id}/freeze", headers=owner)
    assert "trustees not named (0 of 3)" in refused.json()["missing"]


@pytest.mark.parametrize(
    "body",
    [
        {"threshold": 3, "trustees": [{"account_id": "{a}", "name": "A"}]},
        {"threshold": 0, "trustees": [{"account_id": "{a}", "name": "A"}]},
        {"threshold": 1, "trustees": []},
        {"threshold": 1, "trustees": [{"account_id": "not-a-uuid", "name": "A"}]},
        {"threshold": 1, "trustees": [{"account_id": "{a}", "name": "A\nB"}]},
        {"threshold": 1, "trustees": [{"account_id": "{a}", "name": SERVER_TRUSTEE_NAME}]},
        {
            "threshold": 1,
            "trustees": [{"account_id": "{a}", "name": "A"}, {"account_id": "{a}", "name": "B"}],
        },
        {"server_trustee": True, "threshold": 2},
        {"server_trustee": True, "trustees": [{"account_id": "{a}", "name": "A"}]},
        {"threshold": 1, "trustees": [{"account_id": "{a}", "name": "A"}], "extra": 1},
    ],
)
async def test_naming_trustees_validates_its_input(
    client: httpx.AsyncClient, build: Builder, token: Headers, body: dict[str, Any]
) -> None:
    election_id = (await build.election())["id"]
    filled = json.loads(json.dumps(body).replace("{a}", "7d7c3b2e-2f76-4e5b-9a55-1f6d2b0f0a11"))
    response = await client.put(
        f"/api/elections/{election_id}/trustees", json=filled, headers=token("admin")
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_server_trustee_for_demos(
    client: httpx.AsyncClient, build: Builder, token: Headers, app: FastAPI, settings: Settings
) -> None:
    owner = token("owner")
    election_id = await _draft(build)
    response = await client.put(
        f"/api/elections/{election_id}/trustees", json={"server_trustee": True}, headers=owner
    )
    assert response.status_code == 200, response.text
    state = response.json()
    assert state["status"] == "complete" and state["server_trustee"] is True
    assert (state["trustee_count"], state["threshold"]) == (1, 1)
    assert [t["name"] for t in state["trustees"]] == [SERVER_TRUSTEE_NAME]
    assert state["trustees"][0]["account_id"] is None
    election = (await client.get(f"/api/elections/{election_id}", headers=owner)).json()
    assert election["server_trustee"] is True
    assert election["joint_public_key"] == state["joint_public_key"]

    database: Database = app.state.database
    async with database.session() as session:
        share = await server_trustee_key_share(session, election_id=election_id, settings=settings)
        stored = await session.get(ServerTrusteeKey, election_id)
    assert share is not None and stored is not None
    assert share.secret.hex().encode() not in stored.sealed_key_share
    assert share.secret.to_bytes() not in stored.sealed_key_share
    commitment = TrusteeCommitment.from_json(state["trustees"][0]["commitment"])
    assert share.public == public_share(commitments=[commitment], index=1)
    joint = Point.from_hex(state["joint_public_key"])
    ciphertext = encrypt(message=3, public_key=joint, nonce=Scalar.random())
    decryption = compute_decryption_share(
        key_share=share, ciphertext=ciphertext, election_hash=b"\x00" * 32, label="t"
    )
    combined = combine_decryption_shares(
        ciphertext=ciphertext, shares={1: decryption.share}, threshold=1
    )
    assert discrete_log(combined) == 3

    wrong = settings.model_copy(update={"secret_key": SecretStr("another-secret-0123456789abcdef")})
    async with database.session() as session:
        with pytest.raises(ServerTrusteeKeyError):
            await server_trustee_key_share(session, election_id=election_id, settings=wrong)

    # Nobody can act as the server trustee through the API: not a trustee of the organisation
    # (not named for this election, it does not see it), not its owner.
    for role, refused in (("trustee", 404), ("owner", 403)):
        intruder = await client.put(
            f"/api/elections/{election_id}/ceremony/trustees/1/box-key",
            json={"box_public_key": "22" * 32},
            headers=token(role),
        )
        assert intruder.status_code == refused, role

    frozen = await client.post(f"/api/elections/{election_id}/freeze", headers=owner)
    assert frozen.status_code == 200, frozen.text
    async with database.session() as session:
        row = await session.get(Election, election_id)
        assert row is not None and row.context_document is not None
        document = row.context_document
    assert document["trustees"][0]["name"] == SERVER_TRUSTEE_NAME
    assert context_from_documents(**document).election_hash.hex() == frozen.json()["election_hash"]

    # An election with human trustees has no server key share.
    human = await _draft(build)
    await run_ceremony(client, token, human)
    async with database.session() as session:
        assert await server_trustee_key_share(session, election_id=human, settings=settings) is None


async def test_the_server_trustee_waits_for_valid_questions(
    client: httpx.AsyncClient, build: Builder, token: Headers
) -> None:
    owner = token("owner")
    election_id = (await build.election())["id"]
    pending = await client.put(
        f"/api/elections/{election_id}/trustees", json={"server_trustee": True}, headers=owner
    )
    assert pending.json()["status"] == "registering"
    assert "questions" in pending.json()["detail"]
    await build.question(election_id)
    restarted = await client.post(f"/api/elections/{election_id}/ceremony/restart", headers=owner)
    assert restarted.json()["status"] == "complete"


async def test_the_database_fixes_the_ceremony_after_freezing(build: Builder, app: FastAPI) -> None:
    database: Database = app.state.database
    election_id = await build.frozen()
    for statement in (
        update(Election).where(Election.id == election_id).values(election_hash="00" * 32),
        update(Election).where(Election.id == election_id).values(context_document={}),
        update(Election).where(Election.id == election_id).values(server_trustee=False),
        update(CeremonyStep).where(CeremonyStep.election_id == election_id).values(payload={}),
        insert(CeremonyStep).values(
            election_id=election_id,
            trustee_index=2,
            step="register",
            payload={},
            created_at=datetime.now(UTC),
        ),
    ):
        with pytest.raises(DBAPIError):
            async with database.session() as session:
                await session.execute(statement)
