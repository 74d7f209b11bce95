"""The browser's ballot code and the Python reference agree (docs/browser-crypto.md).

The JavaScript side is the committed bundle `static/js/securevote.js`, exactly what the booth
loads, run by Node.js through `frontend-service/js/test/cross-driver.mjs`. Ballots encrypted
in JavaScript with a random seed must verify in Python, and the reverse; both sides must
compute the same trackers, election hash and joint key, and reject the other's tampering;
board heads and proofs made in Python verify in JavaScript, with libsodium's Ed25519 rules.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pysodium
import pytest

from securevote.ballots import (
    ElectionContext,
    EncryptedBallot,
    Manifest,
    OptionDefinition,
    QuestionDefinition,
    ballot_problems,
    encrypt_ballot,
    reveal_choices,
    spoiled_ballot_problems,
)
from securevote.crypto.merkle import MerkleTree, generate_signing_keypair, sign_tree_head
from securevote.crypto.threshold import (
    CeremonyParameters,
    TrusteeIdentity,
    deal,
    generate_box_keypair,
)

FRONTEND = Path(__file__).resolve().parents[1]
BUNDLE = FRONTEND / "src" / "frontend_service" / "static" / "js" / "securevote.js"
DRIVER = FRONTEND / "js" / "test" / "cross-driver.mjs"

CHOICES = [
    {"chair": ["o2"], "board": ["o1", "o4"], "motions": [], "pair": ["o1", "o3"]},
    {"chair": ["o1"], "board": [], "motions": ["o1", "o2"], "pair": ["o2", "o3"]},
    {"chair": ["o3"], "board": ["o3"], "motions": ["o2"], "pair": ["o1", "o2"]},
]


def node(op: str, args: dict[str, Any]) -> Any:
    """Run one driver operation on the committed bundle; fail (never skip) without Node.js."""
    executable = shutil.which("node")
    if executable is None:
        pytest.fail(
            "Node.js is required to test the browser cryptography (node >= 20 on PATH); "
            "install it, e.g. `apt-get install nodejs`"
        )
    result = subprocess.run(
        [executable, str(DRIVER), str(BUNDLE)],
        input=json.dumps({"op": op, "args": args}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"node {op} failed:\n{result.stderr}"
    return json.loads(result.stdout)


def _options(count: int) -> tuple[OptionDefinition, ...]:
    return tuple(OptionDefinition(id=f"o{i}", label=f"Option {i}") for i in range(1, count + 1))


@pytest.fixture(scope="module")
def election() -> ElectionContext:
    """A 2-of-3 ceremony over a manifest with every kind of question (range proof or not)."""
    manifest = Manifest(
        election_id="cross-impl",
        title="Élection « croisée » ✓",
        questions=(
            QuestionDefinition(
                id="chair", label="Chair", options=_options(3), min_selections=1, max_selections=1
            ),
            QuestionDefinition(
                id="board", label="Board", options=_options(4), min_selections=0, max_selections=2
            ),
            QuestionDefinition(
                id="motions",
                label="Motions",
                options=_options(2),
                min_selections=0,
                max_selections=2,
            ),
            QuestionDefinition(
                id="pair",
                label="Pick two",
                options=_options(3),
                min_selections=2,
                max_selections=2,
            ),
        ),
    )
    trustees = tuple(
        TrusteeIdentity(i, f"trustee-{i}", generate_box_keypair()[0]) for i in range(1, 4)
    )
    params = CeremonyParameters(
        manifest_hash=manifest.manifest_hash, threshold=2, trustees=trustees
    )
    commitments = tuple(deal(params=params, index=t.index).commitment for t in trustees)
    context = ElectionContext(manifest, 2, trustees, commitments)
    assert context.problems() == []
    return context


def _js_context(election: ElectionContext) -> dict[str, Any]:
    return {
        "manifest": election.manifest.to_json(),
        "publicKey": election.joint_key.hex(),
        "electionHash": election.election_hash.hex(),
    }


def test_javascript_recomputes_the_election_hash_and_joint_key(election: ElectionContext) -> None:
    trustees = [
        {**t.to_json(), **c.to_json()}
        for t, c in zip(election.trustees, election.commitments, strict=True)
    ]
    answer = node(
        "election",
        {"manifest": election.manifest.to_json(), "threshold": 2, "trustees": trustees},
    )
    assert answer == {
        "problems": [],
        "jointKey": election.joint_key.hex(),
        "electionHash": election.election_hash.hex(),
    }
    trustees[1]["name"] = "someone else"
    assert node(
        "election", {"manifest": election.manifest.to_json(), "threshold": 2, "trustees": trustees}
    )["problems"]


@pytest.mark.parametrize("choices", CHOICES)
def test_a_ballot_encrypted_in_javascript_verifies_in_python(
    election: ElectionContext, choices: dict[str, list[str]]
) -> None:
    answer = node("encrypt", {**_js_context(election), "credential": "voter-7", "choices": choices})
    ballot = EncryptedBallot.from_json(answer["ballot"])
    # Identical in form: the Python serialisation of the parsed ballot is the JavaScript JSON.
    assert ballot.to_json() == answer["ballot"]
    assert ballot.tracker.hex() == answer["tracker"]
    context = election
    assert (
        ballot_problems(
            ballot,
            manifest=context.manifest,
            public_key=context.joint_key,
            election_hash=context.election_hash,
            credential="voter-7",
        )
        == []
    )
    seed = bytes.fromhex(answer["seed"])
    assert (
        spoiled_ballot_problems(
            ballot,
            manifest=context.manifest,
            public_key=context.joint_key,
            election_hash=context.election_hash,
            seed=seed,
            choices=choices,
        )
        == []
    )
    revealed = reveal_choices(
        ballot, manifest=context.manifest, public_key=context.joint_key, seed=seed
    )
    assert revealed == {q: sorted(o) for q, o in choices.items()}
    # The same seed in Python gives the same ciphertexts (§7.2 nonces agree).
    again, _ = encrypt_ballot(
        manifest=context.manifest,
        public_key=context.joint_key,
        election_hash=context.election_hash,
        credential="voter-7",
        choices=choices,
        seed=seed,
    )
    assert [[s.ciphertext for s in q.selections] for q in again.questions] == [
        [s.ciphertext for s in q.selections] for q in ballot.questions
    ]


def test_python_rejects_a_javascript_ballot_for_another_voter_or_altered(
    election: ElectionContext,
) -> None:
    answer = node(
        "encrypt", {**_js_context(election), "credential": "voter-1", "choices": CHOICES[0]}
    )
    context = election

    def problems(document: dict[str, Any]) -> list[str]:
        return ballot_problems(
            EncryptedBallot.from_json(document),
            manifest=context.manifest,
            public_key=context.joint_key,
            election_hash=context.election_hash,
        )

    moved = json.loads(json.dumps(answer["ballot"]))
    moved["credential"] = "voter-2"
    assert problems(moved)
    swapped = json.loads(json.dumps(answer["ballot"]))
    first, second = swapped["questions"][0]["selections"][:2]
    first["ciphertext"], second["ciphertext"] = second["ciphertext"], first["ciphertext"]
    assert problems(swapped)


@pytest.mark.parametrize("choices", CHOICES)
def test_a_python_ballot_verifies_in_javascript(
    election: ElectionContext, choices: dict[str, list[str]]
) -> None:
    context = election
    ballot, seed = encrypt_ballot(
        manifest=context.manifest,
        public_key=context.joint_key,
        election_hash=context.election_hash,
        credential="voter-3",
        choices=choices,
    )
    document = ballot.to_json()
    js = _js_context(election)
    assert node("problems", {**js, "ballot": document, "credential": "voter-3"}) == []
    assert node("tracker", {"ballot": document}) == ballot.tracker.hex()
    audit = {**js, "ballot": document, "seed": seed.hex(), "choices": choices}
    assert node("spoiled", audit) == []
    # and the JavaScript side rejects what it must
    assert node("problems", {**js, "ballot": document, "credential": "voter-4"}) == [
        "ballot is for another voter credential"
    ]
    moved = {**document, "credential": "voter-4"}
    assert node("problems", {**js, "ballot": moved})[0].endswith("invalid proof")
    other = dict(choices)
    other["chair"] = ["o1"] if choices["chair"] != ["o1"] else ["o2"]
    assert "does not encrypt" in node("spoiled", {**audit, "choices": other})[0]


# --- bulletin board -------------------------------------------------------------------------

BOARD_SEED = bytes(range(32))
# Signatures over b"hello" under the key of BOARD_SEED, crafted by the key holder (see
# frontend-service/js/test/merkle.test.js): "dirty" has R + (0, -1) (a torsion point), "small"
# has R = (0, -1). noble's `ed25519.verify(..., { zip215: false })` accepts both (cofactored
# equation, no small-order R check); libsodium rejects both, and so must the browser.
CRAFTED = {
    "good": "17ffad8068dc0de9935d36636f3ad1b5de6de3413b12388e453b05f2a4c1d3db"
    "5ce898cdab637e4447dfd43c860403769ba714aa20c1f2cba7969c7968ed9407",
    "dirty": "d600527f9723f2166ca2c99c90c52e4a21921cbec4edc771bac4fa0d5b3e2c24"
    "82a60db3ae6a290d0123db2af2afd9980ee679a1382ebfbac78c7c8db65f9703",
    "small": "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
    "fa690a0246c9a20a9cbb8e860859e23affee9ba976524e25d504a4722df1b300",
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_ed25519_verification_agrees_with_libsodium(name: str) -> None:
    public_key, _ = generate_signing_keypair(BOARD_SEED)
    signature = bytes.fromhex(CRAFTED[name])
    try:
        pysodium.crypto_sign_verify_detached(signature, b"hello", public_key)
        libsodium = True
    except ValueError:
        libsodium = False
    assert libsodium == (name == "good")
    args = {"signature": CRAFTED[name], "message": b"hello".hex(), "publicKey": public_key.hex()}
    assert node("ed25519", args) is libsodium


def test_python_board_heads_and_proofs_verify_in_javascript(election: ElectionContext) -> None:
    public_key, secret_key = generate_signing_keypair(BOARD_SEED)
    election_hash = election.election_hash
    tree = MerkleTree()
    trackers = [hashlib.sha256(bytes([i])).digest() for i in range(11)]
    heads = {}
    for size in (5, 11):
        while tree.size < size:
            tree.append(trackers[tree.size])
        heads[size] = sign_tree_head(
            election_hash=election_hash,
            size=size,
            root=tree.root(size),
            timestamp=1_767_225_600 + size,
            secret_key=secret_key,
        ).to_json()
    for index in (0, 4, 7, 10):
        receipt = {
            "tracker": trackers[index].hex(),
            "index": index,
            "proof": [p.hex() for p in tree.inclusion_proof(index, 11)],
            "head": heads[11],
            "boardPublicKey": public_key.hex(),
            "electionHash": election_hash.hex(),
        }
        assert node("receipt", receipt) is True
        assert node("receipt", {**receipt, "index": (index + 1) % 11}) is False
        assert node("receipt", {**receipt, "head": {**heads[11], "size": 12}}) is False
    consistency = {
        "oldSize": 5,
        "newSize": 11,
        "oldRoot": heads[5]["root"],
        "newRoot": heads[11]["root"],
        "proof": [p.hex() for p in tree.consistency_proof(5, 11)],
    }
    assert node("consistency", consistency) is True
    assert node("consistency", {**consistency, "oldSize": 6}) is False
