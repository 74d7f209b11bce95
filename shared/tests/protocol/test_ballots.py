"""Ballots: encryption, verification against manifest/election/credential, audit, tracker."""

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from securevote.ballots import (
    BallotError,
    Choices,
    EncryptedBallot,
    Manifest,
    OptionDefinition,
    QuestionDefinition,
    aggregate_ballots,
    ballot_problems,
    encrypt_ballot,
    reveal_choices,
    spoiled_ballot_problems,
    verify_ballot,
)
from securevote.crypto.elgamal import Ciphertext, decrypt_to_point, discrete_log
from securevote.crypto.group import IDENTITY, Scalar
from securevote.crypto.proofs import prove_encrypts_one_of

from .factory import Election

CHOICES: dict[str, list[str]] = {"chair": ["o2"], "board": ["o1", "o4"], "motions": []}


def _encrypt(
    election: Election,
    choices: Choices = CHOICES,
    credential: str = "voter-1",
    seed: bytes | None = None,
) -> tuple[EncryptedBallot, bytes]:
    context = election.context
    return encrypt_ballot(
        manifest=context.manifest,
        public_key=context.joint_key,
        election_hash=context.election_hash,
        credential=credential,
        choices=choices,
        seed=seed,
    )


def _problems(
    election: Election, ballot: EncryptedBallot, credential: str | None = None
) -> list[str]:
    context = election.context
    return ballot_problems(
        ballot,
        manifest=context.manifest,
        public_key=context.joint_key,
        election_hash=context.election_hash,
        credential=credential,
    )


def _secret_key(election: Election) -> Scalar:
    """The joint secret, reconstructed here only to check plaintexts in tests."""
    from securevote.crypto.threshold import lagrange_coefficient

    indices = [1, 2]
    total = Scalar(0)
    for index in indices:
        total = total + election.key_shares[index].secret * lagrange_coefficient(index, indices)
    return total


def test_honest_ballot_verifies_and_decrypts(election: Election) -> None:
    ballot, _ = _encrypt(election)
    assert _problems(election, ballot, "voter-1") == []
    secret = _secret_key(election)
    for question in ballot.questions:
        for selection in question.selections:
            value = discrete_log(decrypt_to_point(selection.ciphertext, secret))
            assert value == (selection.option_id in CHOICES[question.question_id])
    assert EncryptedBallot.from_json(ballot.to_json()) == ballot


def test_context_is_consistent(election: Election) -> None:
    assert election.context.problems() == []
    assert len(election.context.election_hash) == 32


def test_ballot_bound_to_voter_and_election(election: Election) -> None:
    ballot, _ = _encrypt(election)
    assert _problems(election, ballot, "voter-2") != []
    # Replaying the same proofs under another credential fails.
    assert _problems(election, replace(ballot, credential="voter-2")) != []
    other = replace(ballot, election_hash=b"\x01" * 32)
    context = election.context
    assert not verify_ballot(
        other, manifest=context.manifest, public_key=context.joint_key, election_hash=b"\x01" * 32
    )


def test_tampering_rejected(election: Election) -> None:
    ballot, _ = _encrypt(election)
    chair = ballot.questions[0]
    first = chair.selections[0]
    doubled = replace(
        first,
        ciphertext=Ciphertext(first.ciphertext.pad + first.ciphertext.pad, first.ciphertext.data),
    )
    tampered = replace(
        ballot,
        questions=(
            replace(chair, selections=(doubled, *chair.selections[1:])),
            *ballot.questions[1:],
        ),
    )
    assert _problems(election, tampered) != []
    # Proofs swapped between two selections.
    second = chair.selections[1]
    swapped = (replace(first, proof=second.proof), replace(second, proof=first.proof))
    tampered = replace(
        ballot,
        questions=(
            replace(chair, selections=(*swapped, *chair.selections[2:])),
            *ballot.questions[1:],
        ),
    )
    assert _problems(election, tampered) != []
    # Option ids swapped.
    renamed = (
        replace(first, option_id=second.option_id),
        replace(second, option_id=first.option_id),
    )
    tampered = replace(
        ballot,
        questions=(
            replace(chair, selections=(*renamed, *chair.selections[2:])),
            *ballot.questions[1:],
        ),
    )
    assert _problems(election, tampered) != []
    # Missing range proof, dropped question, identity pad.
    tampered = replace(ballot, questions=(replace(chair, range_proof=None), *ballot.questions[1:]))
    assert _problems(election, tampered) != []
    assert _problems(election, replace(ballot, questions=ballot.questions[:2])) != []
    identity = replace(first, ciphertext=Ciphertext(IDENTITY, first.ciphertext.data))
    tampered = replace(
        ballot,
        questions=(
            replace(chair, selections=(identity, *chair.selections[1:])),
            *ballot.questions[1:],
        ),
    )
    assert _problems(election, tampered) != []


def test_overvote_with_valid_selection_proofs_rejected(election: Election) -> None:
    """A cheating client selects two chairs: every 0/1 proof is valid, the range proof cannot be."""
    context = election.context
    ballot, _ = _encrypt(election, choices={"chair": ["o1"], "board": [], "motions": []})
    chair = ballot.questions[0]
    key, eh = context.joint_key, context.election_hash
    nonce = Scalar(1234)
    from securevote.crypto.elgamal import encrypt

    ciphertext = encrypt(message=1, public_key=key, nonce=nonce)
    proof = prove_encrypts_one_of(
        ciphertext=ciphertext,
        public_key=key,
        nonce=nonce,
        plaintext=1,
        values=(0, 1),
        context=("securevote/v1/selection", eh, "voter-1", "chair", "o2"),
    )
    selections = list(chair.selections)
    selections[1] = replace(selections[1], ciphertext=ciphertext, proof=proof)
    tampered = replace(
        ballot, questions=(replace(chair, selections=tuple(selections)), *ballot.questions[1:])
    )
    problems = _problems(election, tampered)
    assert problems and "range proof" in problems[0]


def test_invalid_choices_refused(election: Election) -> None:
    invalid: list[dict[str, list[str]]] = [
        {"chair": [], "board": [], "motions": []},
        {"chair": ["o1", "o2"], "board": [], "motions": []},
        {"chair": ["o1"], "board": ["o1", "o2", "o3"], "motions": []},
        {"chair": ["o9"], "board": [], "motions": []},
        {"chair": ["o1"], "board": []},
    ]
    for choices in invalid:
        with pytest.raises(BallotError):
            _encrypt(election, choices=choices)


def test_benaloh_audit(election: Election) -> None:
    seed = b"\x05" * 32
    ballot, returned = _encrypt(election, seed=seed)
    assert returned == seed
    again, _ = _encrypt(election, seed=seed)
    assert (
        again.questions[0].selections[0].ciphertext == ballot.questions[0].selections[0].ciphertext
    )
    context = election.context

    def audit(seed: bytes, choices: Choices) -> list[str]:
        return spoiled_ballot_problems(
            ballot,
            manifest=context.manifest,
            public_key=context.joint_key,
            election_hash=context.election_hash,
            seed=seed,
            choices=choices,
        )

    assert audit(seed, CHOICES) == []
    assert audit(seed, {"chair": ["o1"], "board": ["o1", "o4"], "motions": []}) != []
    assert audit(b"\x06" * 32, CHOICES) != []
    shown = reveal_choices(
        ballot, manifest=context.manifest, public_key=context.joint_key, seed=seed
    )
    assert {q: sorted(v) for q, v in shown.items()} == CHOICES
    with pytest.raises(BallotError):
        reveal_choices(
            ballot, manifest=context.manifest, public_key=context.joint_key, seed=b"\x06" * 32
        )


def test_tracker_changes_with_any_byte(election: Election) -> None:
    ballot, _ = _encrypt(election)
    other, _ = _encrypt(election)
    assert ballot.tracker != other.tracker
    assert len(ballot.tracker) == 32
    assert replace(ballot, credential="x").tracker != ballot.tracker


def test_strict_parsing(election: Election) -> None:
    ballot, _ = _encrypt(election)
    document = ballot.to_json()
    mutations: list[Callable[[dict[str, Any]], object]] = [
        lambda d: d.update(extra=1),
        lambda d: d["questions"][0].pop("range_proof"),
        lambda d: d["questions"][0]["selections"][0]["ciphertext"].update(pad="00" * 31),
        lambda d: d.update(election_hash=d["election_hash"].upper()),
        lambda d: d["questions"][0]["selections"][0]["proof"]["challenges"].append("00" * 32),
    ]
    for mutate in mutations:
        changed = copy.deepcopy(document)
        mutate(changed)
        try:
            parsed = EncryptedBallot.from_json(changed)
        except BallotError:
            continue
        assert _problems(election, parsed) != []


def test_manifest_validation() -> None:
    option = OptionDefinition(id="a", label="A")
    with pytest.raises(ValidationError):
        QuestionDefinition(id="q", label="Q", options=(option,), min_selections=1, max_selections=2)
    with pytest.raises(ValidationError):
        QuestionDefinition(
            id="q", label="Q", options=(option, option), min_selections=1, max_selections=1
        )
    with pytest.raises(ValidationError):
        QuestionDefinition(
            id="q/1", label="Q", options=(option,), min_selections=1, max_selections=1
        )
    with pytest.raises(ValidationError):
        Manifest(election_id="e", title="t", questions=())


@settings(max_examples=5, deadline=None)
@given(st.lists(st.sampled_from(["o1", "o2", "o3"]), min_size=1, max_size=6))
def test_aggregate_counts(election: Election, chairs: list[str]) -> None:
    ballots = [
        _encrypt(
            election, choices={"chair": [c], "board": [], "motions": ["o1"]}, credential=f"v{i}"
        )[0]
        for i, c in enumerate(chairs)
    ]
    totals = aggregate_ballots(ballots, election.context.manifest)
    secret = _secret_key(election)
    for option in ("o1", "o2", "o3"):
        point = decrypt_to_point(totals[("chair", option)], secret)
        assert discrete_log(point) == chairs.count(option)
    assert discrete_log(decrypt_to_point(totals[("motions", "o1")], secret)) == len(chairs)
    assert decrypt_to_point(totals[("board", "o1")], secret) == IDENTITY


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_single_character_change_is_rejected(election: Election, data: st.DataObject) -> None:
    """Flip one character anywhere in the ballot's canonical JSON: it no longer parses or
    no longer verifies (under the same credential and election)."""
    ballot, _ = _encrypt(election)
    text = ballot.canonical_bytes().decode()
    position = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    replacement = data.draw(st.sampled_from('0123456789abcdef"{}[],:x'))
    if text[position] == replacement:
        return
    mutated = text[:position] + replacement + text[position + 1 :]
    try:
        parsed = EncryptedBallot.from_json(json.loads(mutated))
    except (BallotError, ValueError):
        return
    assert _problems(election, parsed, "voter-1") != []


def test_encryption_refuses_the_identity_as_election_key() -> None:
    from securevote.ballots import BallotError, encrypt_ballot
    from securevote.crypto.group import IDENTITY

    from .factory import make_manifest

    manifest = make_manifest()
    with pytest.raises(BallotError, match="identity"):
        encrypt_ballot(
            manifest=manifest,
            public_key=IDENTITY,
            election_hash=bytes(32),
            credential="voter-1",
            choices={"chair": ["o1"], "board": [], "motions": []},
        )
