"""Manifests, election context and hash, encrypted ballots (docs/protocol.md §3, §4.5, §7).

A question asks to "select between `min_selections` and `max_selections` of these options":
plurality is 1..1, approval 0..n, k-of-n is 0..k (or k..k).  Each option becomes one ElGamal
ciphertext of 0 or 1 with a disjunctive proof; each question gets a range proof that the sum of
its selections lies in [min, max], omitted when that holds trivially (min = 0 and max = n).

Every ballot proof's challenge hashes the election hash and the voter's pseudonymous credential,
so a ballot cannot be replayed or re-randomised for another voter or election.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from securevote.crypto.elgamal import Ciphertext, add_all, encrypt
from securevote.crypto.group import GroupError, Point, Scalar, base_mul
from securevote.crypto.hashing import canonical_json, hash256, hash_to_scalar
from securevote.crypto.native import Accumulator
from securevote.crypto.proofs import (
    DisjunctiveProof,
    ProofError,
    prove_encrypts_one_of,
    verify_encrypts_one_of,
)
from securevote.crypto.threshold import (
    CeremonyParameters,
    TrusteeCommitment,
    TrusteeIdentity,
    joint_public_key,
    verify_commitment,
)

PROTOCOL_VERSION = "securevote/v1"
GROUP_NAME = "ristretto255"
MANIFEST_TAG = "securevote/v1/manifest"
ELECTION_TAG = "securevote/v1/election"
TRACKER_TAG = "securevote/v1/tracker"
NONCE_TAG = "securevote/v1/ballot-nonce"
SELECTION_CONTEXT = "securevote/v1/selection"
RANGE_CONTEXT = "securevote/v1/range"
SEED_BYTES = 32

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

#: question id -> selected option ids
Choices = Mapping[str, Collection[str]]


class BallotError(ValueError):
    """A ballot is malformed or does not match the manifest (never contains secrets)."""


# --- Manifest -----------------------------------------------------------------------------


class OptionDefinition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_IDENTIFIER.pattern)
    label: str


class QuestionDefinition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_IDENTIFIER.pattern)
    label: str
    options: tuple[OptionDefinition, ...]
    min_selections: int = Field(ge=0)
    max_selections: int = Field(ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> QuestionDefinition:
        if not self.options:
            raise ValueError("a question needs at least one option")
        if len({o.id for o in self.options}) != len(self.options):
            raise ValueError("option ids must be unique within a question")
        if not self.min_selections <= self.max_selections <= len(self.options):
            raise ValueError("need min_selections <= max_selections <= number of options")
        return self

    @property
    def option_ids(self) -> tuple[str, ...]:
        return tuple(o.id for o in self.options)

    @property
    def needs_range_proof(self) -> bool:
        """False when every 0/1 assignment is allowed, so the per-option proofs suffice."""
        return not (self.min_selections == 0 and self.max_selections == len(self.options))

    @property
    def allowed_totals(self) -> tuple[int, ...]:
        return tuple(range(self.min_selections, self.max_selections + 1))


class Manifest(BaseModel):
    """What is being voted on.  Its RFC 8785 form is hashed into the election hash."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    election_id: str = Field(pattern=_IDENTIFIER.pattern)
    title: str
    questions: tuple[QuestionDefinition, ...]

    @field_validator("questions")
    @classmethod
    def _unique_questions(
        cls, questions: tuple[QuestionDefinition, ...]
    ) -> tuple[QuestionDefinition, ...]:
        if not questions:
            raise ValueError("a manifest needs at least one question")
        if len({q.id for q in questions}) != len(questions):
            raise ValueError("question ids must be unique")
        return questions

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def manifest_hash(self) -> bytes:
        return hash256(MANIFEST_TAG, canonical_json(self.to_json()))

    def question(self, question_id: str) -> QuestionDefinition:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise BallotError(f"unknown question {question_id!r}")


# --- Election context and hash ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ElectionContext:
    """Everything a ballot is bound to: manifest, group, trustees' commitments, joint key."""

    manifest: Manifest
    threshold: int
    trustees: tuple[TrusteeIdentity, ...]
    commitments: tuple[TrusteeCommitment, ...]

    @property
    def ceremony(self) -> CeremonyParameters:
        return CeremonyParameters(
            manifest_hash=self.manifest.manifest_hash,
            threshold=self.threshold,
            trustees=self.trustees,
        )

    @property
    def joint_key(self) -> Point:
        return joint_public_key(self.commitments)

    @property
    def election_hash(self) -> bytes:
        return election_hash(
            manifest=self.manifest,
            threshold=self.threshold,
            trustees=self.trustees,
            commitments=self.commitments,
        )

    def problems(self) -> list[str]:
        """Ceremony checks: one valid commitment per trustee, in order; usable joint key."""
        found: list[str] = []
        ceremony = self.ceremony
        if [c.index for c in self.commitments] != [t.index for t in self.trustees]:
            found.append("commitments must list every trustee once, in order")
        for commitment in self.commitments:
            if not verify_commitment(params=ceremony, commitment=commitment):
                found.append(f"trustee {commitment.index}: invalid commitment or proof")
        if not found and self.joint_key.is_identity():
            found.append("joint key is the identity")
        return found


def election_hash(
    *,
    manifest: Manifest,
    threshold: int,
    trustees: Sequence[TrusteeIdentity],
    commitments: Sequence[TrusteeCommitment],
) -> bytes:
    """H(tag, version, group, manifest hash, k, n, per trustee (index, name, box key,
    coefficient commitments), joint key) -- see docs/protocol.md."""
    parts: list[bytes | str | int | Point] = [
        PROTOCOL_VERSION,
        GROUP_NAME,
        manifest.manifest_hash,
        threshold,
        len(trustees),
    ]
    by_index = {c.index: c for c in commitments}
    for trustee in trustees:
        commitment = by_index.get(trustee.index)
        coefficients = commitment.coefficients if commitment else ()
        parts += [trustee.index, trustee.name, trustee.box_public_key, len(coefficients)]
        parts += list(coefficients)
    parts.append(joint_public_key(commitments))
    return hash256(ELECTION_TAG, *parts)


# --- Encrypted ballots --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EncryptedSelection:
    option_id: str
    ciphertext: Ciphertext
    proof: DisjunctiveProof

    def to_json(self) -> dict[str, Any]:
        return {
            "option": self.option_id,
            "ciphertext": self.ciphertext.to_json(),
            "proof": self.proof.to_json(),
        }


@dataclass(frozen=True, slots=True)
class EncryptedQuestion:
    question_id: str
    selections: tuple[EncryptedSelection, ...]
    range_proof: DisjunctiveProof | None

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question_id,
            "selections": [s.to_json() for s in self.selections],
            "range_proof": None if self.range_proof is None else self.range_proof.to_json(),
        }

    @property
    def total(self) -> Ciphertext:
        return add_all(s.ciphertext for s in self.selections)


@dataclass(frozen=True, slots=True)
class EncryptedBallot:
    election_hash: bytes
    credential: str
    questions: tuple[EncryptedQuestion, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "election_hash": self.election_hash.hex(),
            "credential": self.credential,
            "questions": [q.to_json() for q in self.questions],
        }

    @classmethod
    def from_json(cls, document: object) -> EncryptedBallot:
        """Parse strictly: exact keys, canonical encodings.  Raises BallotError."""
        try:
            return _ballot_from_json(document)
        except (GroupError, ProofError, KeyError, TypeError, ValueError) as error:
            raise BallotError(f"malformed ballot: {error}") from None

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def tracker(self) -> bytes:
        return tracker(self)


def _keys(document: object, keys: set[str]) -> dict[str, Any]:
    if not isinstance(document, dict) or set(document) != keys:
        raise BallotError(f"expected an object with keys {sorted(keys)}")
    return document


def _ballot_from_json(document: object) -> EncryptedBallot:
    top = _keys(document, {"election_hash", "credential", "questions"})
    if not isinstance(top["credential"], str) or not isinstance(top["questions"], list):
        raise BallotError("credential is a string and questions a list")
    hash_hex = top["election_hash"]
    if (
        not isinstance(hash_hex, str)
        or len(hash_hex) != 64
        or bytes.fromhex(hash_hex).hex() != hash_hex
    ):
        raise BallotError("election_hash is 64 lowercase hex digits")
    questions = []
    for question_document in top["questions"]:
        question = _keys(question_document, {"question", "selections", "range_proof"})
        if not isinstance(question["question"], str) or not isinstance(
            question["selections"], list
        ):
            raise BallotError("question id is a string and selections a list")
        selections = []
        for selection_document in question["selections"]:
            selection = _keys(selection_document, {"option", "ciphertext", "proof"})
            if not isinstance(selection["option"], str):
                raise BallotError("option id is a string")
            selections.append(
                EncryptedSelection(
                    selection["option"],
                    Ciphertext.from_json(selection["ciphertext"]),
                    DisjunctiveProof.from_json(selection["proof"]),
                )
            )
        range_document = question["range_proof"]
        range_proof = None if range_document is None else DisjunctiveProof.from_json(range_document)
        questions.append(EncryptedQuestion(question["question"], tuple(selections), range_proof))
    return EncryptedBallot(bytes.fromhex(hash_hex), top["credential"], tuple(questions))


def tracker(ballot: EncryptedBallot) -> bytes:
    """H(tag, election hash, RFC 8785 bytes of the ballot): the voter's receipt and board leaf."""
    return tracker_of(ballot.election_hash, ballot.canonical_bytes())


def tracker_of(election_hash: bytes, canonical: bytes) -> bytes:
    """The tracker of a ballot whose RFC 8785 bytes the caller already has."""
    return hash256(TRACKER_TAG, election_hash, canonical)


def selection_nonce(
    *, seed: bytes, election_hash: bytes, credential: str, question_id: str, option_id: str
) -> Scalar:
    """Encryption randomness derived from the ballot seed (revealed for a Benaloh audit)."""
    nonce = hash_to_scalar(NONCE_TAG, election_hash, credential, seed, question_id, option_id)
    if nonce.is_zero():  # probability 2**-252
        raise BallotError("degenerate seed")
    return nonce


def _validate_choices(manifest: Manifest, choices: Choices) -> None:
    if set(choices) != {q.id for q in manifest.questions}:
        raise BallotError("choices must name every question of the manifest exactly once")
    for question in manifest.questions:
        chosen = list(choices[question.id])
        if len(set(chosen)) != len(chosen) or not set(chosen) <= set(question.option_ids):
            raise BallotError(f"question {question.id!r}: unknown or repeated option")
        if not question.min_selections <= len(chosen) <= question.max_selections:
            raise BallotError(
                f"question {question.id!r}: select between "
                f"{question.min_selections} and {question.max_selections} options"
            )


def encrypt_ballot(
    *,
    manifest: Manifest,
    public_key: Point,
    election_hash: bytes,
    credential: str,
    choices: Choices,
    seed: bytes | None = None,
) -> tuple[EncryptedBallot, bytes]:
    """Encrypt and prove a ballot; returns it with the seed its randomness derives from.

    Keep the seed secret for a cast ballot; reveal it (with the choices) to spoil/audit one.
    """
    _validate_choices(manifest, choices)
    if public_key.is_identity():
        raise BallotError("the election key is the identity: encryption would reveal the vote")
    if seed is None:
        seed = secrets.token_bytes(SEED_BYTES)
    if len(seed) != SEED_BYTES:
        raise BallotError(f"the seed is {SEED_BYTES} bytes")
    questions = []
    for question in manifest.questions:
        chosen = set(choices[question.id])
        selections = []
        total_nonce = Scalar(0)
        for option_id in question.option_ids:
            value = 1 if option_id in chosen else 0
            nonce = selection_nonce(
                seed=seed,
                election_hash=election_hash,
                credential=credential,
                question_id=question.id,
                option_id=option_id,
            )
            total_nonce = total_nonce + nonce
            ciphertext = encrypt(message=value, public_key=public_key, nonce=nonce)
            proof = prove_encrypts_one_of(
                ciphertext=ciphertext,
                public_key=public_key,
                nonce=nonce,
                plaintext=value,
                values=(0, 1),
                context=(SELECTION_CONTEXT, election_hash, credential, question.id, option_id),
            )
            selections.append(EncryptedSelection(option_id, ciphertext, proof))
        range_proof = None
        if total_nonce.is_zero():  # probability 2**-252; the range proof would have no pad
            raise BallotError("degenerate seed")
        if question.needs_range_proof:
            range_proof = prove_encrypts_one_of(
                ciphertext=add_all(s.ciphertext for s in selections),
                public_key=public_key,
                nonce=total_nonce,
                plaintext=len(chosen),
                values=question.allowed_totals,
                context=(RANGE_CONTEXT, election_hash, credential, question.id),
            )
        questions.append(EncryptedQuestion(question.id, tuple(selections), range_proof))
    return EncryptedBallot(election_hash, credential, tuple(questions)), seed


def ballot_problems(
    ballot: EncryptedBallot,
    *,
    manifest: Manifest,
    public_key: Point,
    election_hash: bytes,
    credential: str | None = None,
) -> list[str]:
    """Every reason `ballot` is invalid (empty when valid).  Stops at the first bad proof."""
    if ballot.election_hash != election_hash:
        return ["ballot is for another election"]
    if credential is not None and ballot.credential != credential:
        return ["ballot is for another voter credential"]
    if [q.question_id for q in ballot.questions] != [q.id for q in manifest.questions]:
        return ["questions do not match the manifest"]
    voter = ballot.credential
    for question, encrypted in zip(manifest.questions, ballot.questions, strict=True):
        if tuple(s.option_id for s in encrypted.selections) != question.option_ids:
            return [f"question {question.id}: options do not match the manifest"]
        for selection in encrypted.selections:
            if not verify_encrypts_one_of(
                ciphertext=selection.ciphertext,
                public_key=public_key,
                values=(0, 1),
                proof=selection.proof,
                context=(SELECTION_CONTEXT, election_hash, voter, question.id, selection.option_id),
            ):
                return [f"question {question.id} option {selection.option_id}: invalid proof"]
        if not question.needs_range_proof:
            if encrypted.range_proof is not None:
                return [f"question {question.id}: unexpected range proof"]
            continue
        if encrypted.range_proof is None or not verify_encrypts_one_of(
            ciphertext=encrypted.total,
            public_key=public_key,
            values=question.allowed_totals,
            proof=encrypted.range_proof,
            context=(RANGE_CONTEXT, election_hash, voter, question.id),
        ):
            return [f"question {question.id}: invalid range proof (number of selections)"]
    return []


def verify_ballot(
    ballot: EncryptedBallot,
    *,
    manifest: Manifest,
    public_key: Point,
    election_hash: bytes,
    credential: str | None = None,
) -> bool:
    return not ballot_problems(
        ballot,
        manifest=manifest,
        public_key=public_key,
        election_hash=election_hash,
        credential=credential,
    )


def spoiled_ballot_problems(
    ballot: EncryptedBallot,
    *,
    manifest: Manifest,
    public_key: Point,
    election_hash: bytes,
    seed: bytes,
    choices: Choices,
) -> list[str]:
    """Benaloh audit: the ballot is valid and its revealed seed re-encrypts exactly `choices`."""
    problems = ballot_problems(
        ballot, manifest=manifest, public_key=public_key, election_hash=election_hash
    )
    if problems:
        return problems
    try:
        _validate_choices(manifest, choices)
    except BallotError as error:
        return [f"revealed choices: {error}"]
    if len(seed) != SEED_BYTES:
        return ["revealed seed has the wrong length"]
    for question, encrypted in zip(manifest.questions, ballot.questions, strict=True):
        chosen = set(choices[question.id])
        for selection in encrypted.selections:
            nonce = selection_nonce(
                seed=seed,
                election_hash=election_hash,
                credential=ballot.credential,
                question_id=question.id,
                option_id=selection.option_id,
            )
            value = 1 if selection.option_id in chosen else 0
            if encrypt(message=value, public_key=public_key, nonce=nonce) != selection.ciphertext:
                return [
                    f"question {question.id} option {selection.option_id}: "
                    "does not encrypt the revealed choice"
                ]
    return []


def reveal_choices(
    ballot: EncryptedBallot, *, manifest: Manifest, public_key: Point, seed: bytes
) -> dict[str, list[str]]:
    """Decrypt a spoiled ballot from its seed alone (what the voter's device shows)."""
    result: dict[str, list[str]] = {}
    for question, encrypted in zip(manifest.questions, ballot.questions, strict=True):
        chosen = []
        for selection in encrypted.selections:
            nonce = selection_nonce(
                seed=seed,
                election_hash=ballot.election_hash,
                credential=ballot.credential,
                question_id=question.id,
                option_id=selection.option_id,
            )
            if base_mul(nonce) != selection.ciphertext.pad:
                raise BallotError("the seed does not match this ballot")
            message_point = selection.ciphertext.data - public_key * nonce
            if message_point == base_mul(Scalar(1)):
                chosen.append(selection.option_id)
            elif not message_point.is_identity():
                raise BallotError("a selection is neither 0 nor 1")
        result[question.id] = chosen
    return result


# --- Tally --------------------------------------------------------------------------------


def counted_board_indexes(credentials: Sequence[str]) -> list[int]:
    """The board indexes that count: the last ballot of each credential (docs/protocol.md §8).

    In an election with re-voting a later ballot supersedes the earlier ones of the same
    credential; without it the board holds one ballot per credential and all of them count.
    """
    last = {credential: index for index, credential in enumerate(credentials)}
    return sorted(last.values())


def counted_ballots(ballots: Sequence[EncryptedBallot]) -> list[EncryptedBallot]:
    """The ballots of a board (in board order) that count: see `counted_board_indexes`."""
    return [ballots[i] for i in counted_board_indexes([b.credential for b in ballots])]


def aggregate_ballots(
    ballots: Iterable[EncryptedBallot], manifest: Manifest
) -> dict[tuple[str, str], Ciphertext]:
    """Homomorphic per-option sums, keyed by (question id, option id).  Ballots must be valid
    and must be the counted ones (`counted_ballots`)."""
    keys = [(q.id, o) for q in manifest.questions for o in q.option_ids]
    pads = {key: Accumulator() for key in keys}
    datas = {key: Accumulator() for key in keys}
    for ballot in ballots:
        for question in ballot.questions:
            for selection in question.selections:
                key = (question.question_id, selection.option_id)
                pads[key].add(selection.ciphertext.pad.encoding)
                datas[key].add(selection.ciphertext.data.encoding)
    return {key: Ciphertext(pads[key].point(), datas[key].point()) for key in keys}


def tally_label(question_id: str, option_id: str) -> str:
    """Names a tally ciphertext in decryption-share proofs."""
    return f"tally/{question_id}/{option_id}"
