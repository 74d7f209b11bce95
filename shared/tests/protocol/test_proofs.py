"""Proofs accept honest input and reject every tampering."""

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from securevote.crypto.elgamal import Ciphertext, encrypt
from securevote.crypto.group import GENERATOR, IDENTITY, ORDER, GroupError, Point, Scalar, base_mul
from securevote.crypto.hashing import hash_to_scalar
from securevote.crypto.proofs import (
    DISJUNCTIVE_TAG,
    DisjunctiveProof,
    DleqProof,
    ProofError,
    SchnorrProof,
    prove_dleq,
    prove_encrypts_one_of,
    prove_schnorr,
    verify_dleq,
    verify_encrypts_one_of,
    verify_schnorr,
)

SECRET = Scalar(987654321)
KEY = base_mul(SECRET)
CONTEXT = ("selection", bytes(32), "voter-1", "q1", "o1")
nonces = st.integers(min_value=1, max_value=ORDER - 1).map(Scalar)


def _one_of(
    message: int, values: Sequence[int], nonce: Scalar
) -> tuple[Ciphertext, DisjunctiveProof]:
    ciphertext = encrypt(message=message, public_key=KEY, nonce=nonce)
    proof = prove_encrypts_one_of(
        ciphertext=ciphertext,
        public_key=KEY,
        nonce=nonce,
        plaintext=message,
        values=values,
        context=CONTEXT,
    )
    return ciphertext, proof


def _verify(
    ciphertext: Ciphertext,
    proof: DisjunctiveProof,
    values: Sequence[int] = (0, 1),
    context: Sequence[object] = CONTEXT,
    key: Point = KEY,
) -> bool:
    return verify_encrypts_one_of(
        ciphertext=ciphertext,
        public_key=key,
        values=values,
        proof=proof,
        context=context,  # type: ignore[arg-type]
    )


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([0, 1]), nonces)
def test_selection_proof_honest_and_tampered(message: int, nonce: Scalar) -> None:
    ciphertext, proof = _one_of(message, (0, 1), nonce)
    assert _verify(ciphertext, proof)
    # Ciphertext pad doubled, data changed.
    assert not _verify(Ciphertext(ciphertext.pad + ciphertext.pad, ciphertext.data), proof)
    assert not _verify(Ciphertext(ciphertext.pad, ciphertext.data + GENERATOR), proof)
    # Wrong challenge / response.
    bumped = (proof.challenges[0] + Scalar(1), proof.challenges[1])
    assert not _verify(ciphertext, DisjunctiveProof(bumped, proof.responses))
    shifted = (proof.challenges[1], proof.challenges[0])
    assert not _verify(ciphertext, DisjunctiveProof(shifted, proof.responses))
    altered = (proof.responses[0], proof.responses[1] + Scalar(1))
    assert not _verify(ciphertext, DisjunctiveProof(proof.challenges, altered))
    # Moved to another voter, ballot position or election; other key; other value set.
    assert not _verify(ciphertext, proof, context=("selection", bytes(32), "voter-2", "q1", "o1"))
    assert not _verify(ciphertext, proof, context=("selection", bytes(32), "voter-1", "q1", "o2"))
    assert not _verify(
        ciphertext, proof, context=("selection", b"\x01" * 32, "voter-1", "q1", "o1")
    )
    assert not _verify(ciphertext, proof, key=KEY + GENERATOR)
    assert not _verify(ciphertext, proof, values=(0, 2))
    assert not _verify(ciphertext, proof, values=(0, 1, 2))


def test_selection_outside_zero_one_cannot_be_proven_or_forged() -> None:
    nonce = Scalar(42)
    ciphertext = encrypt(message=2, public_key=KEY, nonce=nonce)
    with pytest.raises(ProofError):
        prove_encrypts_one_of(
            ciphertext=ciphertext,
            public_key=KEY,
            nonce=nonce,
            plaintext=2,
            values=(0, 1),
            context=CONTEXT,
        )
    # A cheating prover claiming "1" for an encryption of 2 produces a rejected proof.
    assert not _verify(ciphertext, _cheat(nonce, claimed=1))


def _cheat(nonce: Scalar, claimed: int) -> DisjunctiveProof:
    """Run the honest prover on a ciphertext whose plaintext is not what it claims."""
    honest_form = encrypt(message=claimed, public_key=KEY, nonce=nonce)
    proof = prove_encrypts_one_of(
        ciphertext=honest_form,
        public_key=KEY,
        nonce=nonce,
        plaintext=claimed,
        values=(0, 1),
        context=CONTEXT,
    )
    return proof


def test_commitment_changed_is_rejected() -> None:
    """A proof whose hashed commitment differs from the one its responses imply fails."""
    nonce, real_nonce = Scalar(11), Scalar(13)
    ciphertext = encrypt(message=1, public_key=KEY, nonce=nonce)
    fake_c, fake_s = Scalar(5), Scalar(7)
    commitments = [
        base_mul(fake_s) - ciphertext.pad * fake_c,
        KEY * fake_s - ciphertext.data * fake_c,
        base_mul(real_nonce) + GENERATOR,  # tampered commitment
        KEY * real_nonce,
    ]
    total = hash_to_scalar(
        DISJUNCTIVE_TAG, *CONTEXT, KEY, ciphertext.pad, ciphertext.data, 2, 0, 1, *commitments
    )
    real_c = total - fake_c
    proof = DisjunctiveProof((fake_c, real_c), (fake_s, real_nonce + real_c * nonce))
    assert not _verify(ciphertext, proof)


def test_identity_where_forbidden() -> None:
    nonce = Scalar(3)
    ciphertext, proof = _one_of(1, (0, 1), nonce)
    assert not _verify(Ciphertext(IDENTITY, ciphertext.data), proof)
    assert not _verify(ciphertext, proof, key=IDENTITY)
    assert not verify_schnorr(public=IDENTITY, proof=SchnorrProof(Scalar(1), Scalar(1)), context=())


@settings(max_examples=8, deadline=None)
@given(st.integers(min_value=0, max_value=5), st.integers(min_value=0, max_value=5), nonces)
def test_range_proof(low: int, width: int, nonce: Scalar) -> None:
    values = list(range(low, low + width + 1))
    message = values[len(values) // 2]
    ciphertext, proof = _one_of(message, values, nonce)
    assert _verify(ciphertext, proof, values=values)
    outside = encrypt(message=low + width + 1, public_key=KEY, nonce=nonce)
    assert not _verify(outside, proof, values=values)


def test_sum_outside_range_cannot_be_proven() -> None:
    with pytest.raises(ProofError):
        _one_of(4, (1, 2, 3), Scalar(9))


def test_schnorr() -> None:
    secret = Scalar(77)
    public = base_mul(secret)
    proof = prove_schnorr(secret=secret, public=public, context=("ctx",))
    assert verify_schnorr(public=public, proof=proof, context=("ctx",))
    assert not verify_schnorr(public=public, proof=proof, context=("other",))
    assert not verify_schnorr(public=public + GENERATOR, proof=proof, context=("ctx",))
    tampered = SchnorrProof(proof.challenge, proof.response + Scalar(1))
    assert not verify_schnorr(public=public, proof=tampered, context=("ctx",))
    assert SchnorrProof.from_json(proof.to_json()) == proof


def test_dleq() -> None:
    secret = Scalar(31337)
    base2 = base_mul(Scalar(99))
    h1, h2 = base_mul(secret), base2 * secret
    proof = prove_dleq(secret=secret, g1=GENERATOR, h1=h1, g2=base2, h2=h2, context=("c",))
    assert verify_dleq(g1=GENERATOR, h1=h1, g2=base2, h2=h2, proof=proof, context=("c",))
    assert not verify_dleq(
        g1=GENERATOR, h1=h1, g2=base2, h2=h2 + GENERATOR, proof=proof, context=("c",)
    )
    assert not verify_dleq(g1=GENERATOR, h1=h1, g2=base2, h2=h2, proof=proof, context=("d",))
    wrong = DleqProof(proof.challenge + Scalar(1), proof.response)
    assert not verify_dleq(g1=GENERATOR, h1=h1, g2=base2, h2=h2, proof=wrong, context=("c",))
    assert not verify_dleq(
        g1=GENERATOR, h1=h1, g2=IDENTITY, h2=IDENTITY, proof=proof, context=("c",)
    )


def test_non_canonical_proof_encoding_rejected() -> None:
    _, proof = _one_of(0, (0, 1), Scalar(8))
    document = proof.to_json()
    document["responses"][0] = (proof.responses[0].value + ORDER).to_bytes(32, "little").hex()
    with pytest.raises(GroupError):
        DisjunctiveProof.from_json(document)
    assert DisjunctiveProof.from_json(proof.to_json()) == proof
