"""Non-interactive zero-knowledge proofs with strong Fiat-Shamir (docs/protocol.md §6).

All proofs are in compact (challenge, response) form: the verifier recomputes the commitments
from the responses and checks that the challenge equals the hash of the context, the full
statement and those commitments.  The *context* is a tuple of hash parts chosen by the caller
(election hash, voter credential, position in the ballot, ...): it binds the proof to where it is
used so that it cannot be moved elsewhere.

* `SchnorrProof`: knowledge of x with X = x·G.
* `DleqProof` (Chaum-Pedersen): log_g1 h1 == log_g2 h2.
* `DisjunctiveProof`: an ElGamal ciphertext encrypts one of a list of small integers (CDS
  OR-composition of Chaum-Pedersen proofs).  Used for each selection (values {0, 1}) and for a
  question's summed ciphertext (values min..max).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from securevote.crypto.elgamal import Ciphertext
from securevote.crypto.group import (
    GENERATOR,
    ORDER,
    Point,
    Scalar,
    base_mul,
    small_base_mul,
)
from securevote.crypto.hashing import HashPart, hash_to_scalar
from securevote.crypto.native import linear_combinations

SCHNORR_TAG = "securevote/v1/proof/schnorr"
DLEQ_TAG = "securevote/v1/proof/dleq"
DISJUNCTIVE_TAG = "securevote/v1/proof/disjunctive"

Context = Sequence[HashPart]


class ProofError(ValueError):
    """A proof is malformed (wrong shape or encoding).  Invalid proofs just verify as False."""


@dataclass(frozen=True, slots=True)
class SchnorrProof:
    challenge: Scalar
    response: Scalar

    def to_json(self) -> dict[str, str]:
        return {"challenge": self.challenge.hex(), "response": self.response.hex()}

    @classmethod
    def from_json(cls, document: object) -> SchnorrProof:
        challenge, response = _pair_from_json(document)
        return cls(challenge, response)


@dataclass(frozen=True, slots=True)
class DleqProof:
    challenge: Scalar
    response: Scalar

    def to_json(self) -> dict[str, str]:
        return {"challenge": self.challenge.hex(), "response": self.response.hex()}

    @classmethod
    def from_json(cls, document: object) -> DleqProof:
        challenge, response = _pair_from_json(document)
        return cls(challenge, response)


@dataclass(frozen=True, slots=True)
class DisjunctiveProof:
    """One (challenge, response) pair per allowed value, in the order of the values."""

    challenges: tuple[Scalar, ...]
    responses: tuple[Scalar, ...]

    def to_json(self) -> dict[str, list[str]]:
        return {
            "challenges": [c.hex() for c in self.challenges],
            "responses": [s.hex() for s in self.responses],
        }

    @classmethod
    def from_json(cls, document: object) -> DisjunctiveProof:
        if not isinstance(document, dict) or set(document) != {"challenges", "responses"}:
            raise ProofError("a disjunctive proof has 'challenges' and 'responses'")
        challenges, responses = document["challenges"], document["responses"]
        if not isinstance(challenges, list) or not isinstance(responses, list):
            raise ProofError("challenges and responses are lists")
        return cls(
            tuple(Scalar.from_hex(c) for c in challenges),
            tuple(Scalar.from_hex(s) for s in responses),
        )


def _pair_from_json(document: object) -> tuple[Scalar, Scalar]:
    if not isinstance(document, dict) or set(document) != {"challenge", "response"}:
        raise ProofError("a proof has exactly 'challenge' and 'response'")
    return Scalar.from_hex(document["challenge"]), Scalar.from_hex(document["response"])


# --- Schnorr ------------------------------------------------------------------------------


def prove_schnorr(*, secret: Scalar, public: Point, context: Context) -> SchnorrProof:
    nonce = Scalar.random()
    commitment = base_mul(nonce)
    challenge = hash_to_scalar(SCHNORR_TAG, *context, public, commitment)
    return SchnorrProof(challenge, nonce + challenge * secret)


def verify_schnorr(*, public: Point, proof: SchnorrProof, context: Context) -> bool:
    """Check knowledge of log_G(public); the identity is never an acceptable public value."""
    if public.is_identity():
        return False
    (commitment,) = linear_combinations(
        (GENERATOR, public), [(proof.response, -proof.challenge.value)]
    )
    return proof.challenge == hash_to_scalar(SCHNORR_TAG, *context, public, commitment)


# --- Chaum-Pedersen -----------------------------------------------------------------------


def prove_dleq(
    *, secret: Scalar, g1: Point, h1: Point, g2: Point, h2: Point, context: Context
) -> DleqProof:
    """Prove h1 = secret·g1 and h2 = secret·g2."""
    nonce = Scalar.random()
    a, b = g1 * nonce, g2 * nonce
    challenge = hash_to_scalar(DLEQ_TAG, *context, g1, h1, g2, h2, a, b)
    return DleqProof(challenge, nonce + challenge * secret)


def verify_dleq(
    *, g1: Point, h1: Point, g2: Point, h2: Point, proof: DleqProof, context: Context
) -> bool:
    if g1.is_identity() or h1.is_identity() or g2.is_identity():
        return False
    r, minus_c = proof.response, -proof.challenge.value
    a, b = linear_combinations((g1, h1, g2, h2), [(r, minus_c, 0, 0), (0, 0, r, minus_c)])
    return proof.challenge == hash_to_scalar(DLEQ_TAG, *context, g1, h1, g2, h2, a, b)


# --- Disjunctive (ciphertext encrypts one of `values`) ------------------------------------


def _challenge_for_values(
    context: Context,
    public_key: Point,
    ciphertext: Ciphertext,
    values: Sequence[int],
    commitments: Sequence[Point],
) -> Scalar:
    return hash_to_scalar(
        DISJUNCTIVE_TAG,
        *context,
        public_key,
        ciphertext.pad,
        ciphertext.data,
        len(values),
        *values,
        *commitments,
    )


def prove_encrypts_one_of(
    *,
    ciphertext: Ciphertext,
    public_key: Point,
    nonce: Scalar,
    plaintext: int,
    values: Sequence[int],
    context: Context,
) -> DisjunctiveProof:
    """Prove that `ciphertext` = Enc(plaintext; nonce) with plaintext among `values`.

    Branches other than the true one are simulated with random (challenge, response); the true
    branch's challenge is the Fiat-Shamir challenge minus the sum of the simulated ones.
    """
    if plaintext not in values or len(set(values)) != len(values):
        raise ProofError("the plaintext must be one of distinct allowed values")
    real = values.index(plaintext)
    challenges: list[Scalar] = []
    responses: list[Scalar] = []
    commitments: list[Point] = []
    real_nonce = Scalar.random()
    for index, value in enumerate(values):
        if index == real:
            challenges.append(Scalar(0))
            responses.append(Scalar(0))
            commitments += [base_mul(real_nonce), public_key * real_nonce]
            continue
        challenge, response = Scalar.random(), Scalar.random()
        challenges.append(challenge)
        responses.append(response)
        shifted = ciphertext.data - small_base_mul(value)
        commitments += [
            base_mul(response) - ciphertext.pad * challenge,
            public_key * response - shifted * challenge,
        ]
    total = _challenge_for_values(context, public_key, ciphertext, values, commitments)
    real_challenge = total
    for index, challenge in enumerate(challenges):
        if index != real:
            real_challenge = real_challenge - challenge
    challenges[real] = real_challenge
    responses[real] = real_nonce + real_challenge * nonce
    return DisjunctiveProof(tuple(challenges), tuple(responses))


def verify_encrypts_one_of(
    *,
    ciphertext: Ciphertext,
    public_key: Point,
    values: Sequence[int],
    proof: DisjunctiveProof,
    context: Context,
) -> bool:
    """Check the proof; a ciphertext with an identity pad (no randomness) is rejected."""
    if len(proof.challenges) != len(values) or len(proof.responses) != len(values):
        return False
    if ciphertext.pad.is_identity() or public_key.is_identity():
        return False
    # Per value v with (c, r): r·G - c·pad and r·pk - c·(data - v·G), over the points
    # (G, pk, pad, data), all in one call that decodes each point once.
    rows: list[tuple[Scalar | int, ...]] = []
    total = 0
    for value, challenge, response in zip(values, proof.challenges, proof.responses, strict=True):
        c = challenge.value
        rows.append((response, 0, -c, 0))
        rows.append((c * value, response, 0, -c))
        total += c
    commitments = linear_combinations(
        (GENERATOR, public_key, ciphertext.pad, ciphertext.data), rows
    )
    expected = _challenge_for_values(context, public_key, ciphertext, values, commitments)
    return total % ORDER == expected.value
