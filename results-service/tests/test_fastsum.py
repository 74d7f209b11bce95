"""The tally's fast summation gives exactly the protocol's aggregate, and refuses bad rows."""

from __future__ import annotations

import json

import pytest

from results_service import fastsum
from securevote.ballots import (
    ElectionContext,
    Manifest,
    OptionDefinition,
    QuestionDefinition,
    aggregate_ballots,
    encrypt_ballot,
)
from securevote.crypto.threshold import CeremonyParameters, TrusteeIdentity, deal
from securevote.crypto.threshold import generate_box_keypair as box

MANIFEST = Manifest(
    election_id="e-sum",
    title="Sum",
    questions=(
        QuestionDefinition(
            id="q",
            label="Q",
            options=tuple(OptionDefinition(id=o, label=o.upper()) for o in ("a", "b", "c")),
            min_selections=0,
            max_selections=3,
        ),
    ),
)
CHOICES = [{"q": ["a"]}, {"q": ["a", "c"]}, {"q": []}, {"q": ["a", "b", "c"]}]


def _ballots(count: int) -> list[str]:
    trustees = (TrusteeIdentity(1, "t1", box()[0]),)
    params = CeremonyParameters(
        manifest_hash=MANIFEST.manifest_hash, threshold=1, trustees=trustees
    )
    context = ElectionContext(MANIFEST, 1, trustees, (deal(params=params, index=1).commitment,))
    return [
        encrypt_ballot(
            manifest=MANIFEST,
            public_key=context.joint_key,
            election_hash=context.election_hash,
            credential=f"v{i}",
            choices=CHOICES[i % len(CHOICES)],
        )[0]
        .canonical_bytes()
        .decode()
        for i in range(count)
    ]


KEYS = [("q", "a"), ("q", "b"), ("q", "c")]


def test_fast_sums_equal_the_protocol_aggregate_in_one_process_and_in_parts() -> None:
    from securevote.ballots import EncryptedBallot

    texts = _ballots(9)
    expected = aggregate_ballots(
        [EncryptedBallot.from_json(json.loads(t)) for t in texts], MANIFEST
    )
    whole = fastsum.sum_ballots(texts, KEYS)
    parts = fastsum.combine(
        [fastsum.sum_ballots(texts[:4], KEYS), fastsum.sum_ballots(texts[4:], KEYS)], KEYS
    )
    for key, ciphertext in expected.items():
        assert whole[key] == parts[key] == (ciphertext.pad.to_bytes(), ciphertext.data.to_bytes())
    assert fastsum.sum_ballots([], KEYS)[("q", "a")] == (bytes(32), bytes(32))


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b.replace('"option":"a"', '"option":"zz"', 1),  # unknown option
        lambda b: b.replace('"pad":"', '"pad":"ff', 1)[: -0 or None],  # wrong length
        lambda b: b[:20],  # not JSON
    ],
)
def test_a_malformed_row_is_refused(change: object) -> None:
    text = _ballots(1)[0]
    with pytest.raises(fastsum.SumError):
        fastsum.sum_ballots([change(text)], KEYS)  # type: ignore[operator]


def test_an_invalid_point_is_refused_not_summed() -> None:
    document = json.loads(_ballots(1)[0])
    ciphertext = document["questions"][0]["selections"][0]["ciphertext"]
    ciphertext["pad"] = "01" + "00" * 31  # odd: not a canonical encoding
    with pytest.raises(fastsum.SumError):
        fastsum.sum_ballots([json.dumps(document)], KEYS)
    ciphertext["pad"] = "00" * 31 + "80"  # top bit set (libsodium 1.0.18 ignores it)
    with pytest.raises(fastsum.SumError):
        fastsum.sum_ballots([json.dumps(document)], KEYS)
