"""docs/vectors/ is still reproduced by the implementation (deterministic parts byte for byte,
randomised proofs by verifying them)."""

import json
from pathlib import Path
from typing import Any

import pytest

from securevote import vectors
from securevote.ballots import EncryptedBallot, verify_ballot
from securevote.crypto.elgamal import Ciphertext
from securevote.crypto.group import GroupError, Point, Scalar
from securevote.crypto.proofs import (
    DisjunctiveProof,
    DleqProof,
    SchnorrProof,
    verify_dleq,
    verify_encrypts_one_of,
    verify_schnorr,
)
from securevote.crypto.threshold import (
    DecryptionShare,
    TrusteeCommitment,
    verify_commitment,
    verify_decryption_share,
)
from securevote.verify import verify_record

VECTORS = Path(__file__).resolve().parents[3] / "docs" / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def _context(parts: list[str]) -> list[bytes]:
    return [bytes.fromhex(p) for p in parts]


def test_deterministic_vectors_reproduced() -> None:
    assert load("hashing.json") == json.loads(json.dumps(vectors.hashing_vectors()))
    assert load("group.json") == vectors.group_vectors()
    assert load("elgamal.json") == vectors.elgamal_vectors()


def test_invalid_encodings_in_vectors_rejected() -> None:
    group = load("group.json")
    for encoding in group["invalid_points"]:
        with pytest.raises(GroupError):
            Point.from_hex(encoding)
    for encoding in group["invalid_scalars"]:
        with pytest.raises(GroupError):
            Scalar.from_hex(encoding)


def test_proof_vectors_verify() -> None:
    proofs = load("proofs.json")
    schnorr = proofs["schnorr"]
    assert verify_schnorr(
        public=Point.from_hex(schnorr["public"]),
        proof=SchnorrProof.from_json(schnorr["proof"]),
        context=_context(schnorr["context"]),
    )
    dleq = proofs["dleq"]
    assert verify_dleq(
        g1=Point.from_hex(dleq["g1"]),
        h1=Point.from_hex(dleq["h1"]),
        g2=Point.from_hex(dleq["g2"]),
        h2=Point.from_hex(dleq["h2"]),
        proof=DleqProof.from_json(dleq["proof"]),
        context=_context(dleq["context"]),
    )
    for case in proofs["disjunctive"]:
        assert verify_encrypts_one_of(
            ciphertext=Ciphertext.from_json(case["ciphertext"]),
            public_key=Point.from_hex(case["public_key"]),
            values=case["values"],
            proof=DisjunctiveProof.from_json(case["proof"]),
            context=_context(case["context"]),
        )


def test_ceremony_and_ballots_reproduced() -> None:
    context, _, transcript = vectors.vector_ceremony()
    stored = load("ceremony.json")
    for key in (
        "manifest_hash",
        "ceremony_hash",
        "shares",
        "key_shares",
        "public_shares",
        "joint_key",
        "election_hash",
        "polynomials",
    ):
        assert stored[key] == transcript[key], key
    params = context.ceremony
    for document in stored["commitments"]:
        assert verify_commitment(params=params, commitment=TrusteeCommitment.from_json(document))
    _, ballot_cases = vectors.ballot_vectors(context)
    stored_ballots = load("ballots.json")
    assert stored_ballots["election_hash"] == ballot_cases["election_hash"]
    for mine, theirs in zip(ballot_cases["ballots"], stored_ballots["ballots"], strict=True):
        ballot = EncryptedBallot.from_json(theirs["ballot"])
        assert ballot.tracker.hex() == theirs["tracker"]
        assert verify_ballot(
            ballot,
            manifest=context.manifest,
            public_key=context.joint_key,
            election_hash=context.election_hash,
            credential=theirs["credential"],
        )
        for question_mine, question_theirs in zip(
            mine["ballot"]["questions"], theirs["ballot"]["questions"], strict=True
        ):
            ciphertexts = [s["ciphertext"] for s in question_mine["selections"]]
            assert ciphertexts == [s["ciphertext"] for s in question_theirs["selections"]]


def test_decryption_vectors() -> None:
    context, _, _ = vectors.vector_ceremony()
    stored = load("decryption.json")
    ciphertext = Ciphertext.from_json(stored["ciphertext"])
    public_shares = load("ceremony.json")["public_shares"]
    for document in stored["shares"]:
        share = DecryptionShare.from_json(document)
        assert verify_decryption_share(
            share=share,
            ciphertext=ciphertext,
            public_share=Point.from_hex(public_shares[str(share.trustee)]),
            election_hash=context.election_hash,
            label=stored["label"],
        )
    assert stored == {
        **stored,
        **{
            k: vectors.decryption_vectors(context, vectors.vector_ceremony()[1])[k]
            for k in ("lagrange", "plaintext_point")
        },
    }


def test_tiny_record_verifies() -> None:
    report = verify_record(VECTORS / "tiny-record.zip", workers=1)
    assert report.ok, report.render()
