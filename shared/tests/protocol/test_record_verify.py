"""The verifier accepts the honest record and rejects every mutation, naming the failing check."""

import copy
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from securevote.ballots import EncryptedBallot, aggregate_ballots, encrypt_ballot
from securevote.cli import main as securevote_main
from securevote.crypto.group import GENERATOR, Point
from securevote.crypto.merkle import MerkleTree, sign_tree_head
from securevote.record import (
    ElectionRecord,
    aggregate_document,
    context_from_documents,
    read_record,
    write_record,
)
from securevote.verify import verify_record

from .factory import Election, HonestRecord, make_record

Mutation = Callable[[ElectionRecord, HonestRecord], None]


def _point_plus_g(text: str) -> str:
    return (Point.from_hex(text) + GENERATOR).hex()


def drop_ballot(r: ElectionRecord, h: HonestRecord) -> None:
    del r.ballots[2]


def duplicate_ballot(r: ElectionRecord, h: HonestRecord) -> None:
    r.ballots.append(copy.deepcopy(r.ballots[0]))


def add_foreign_ballot(r: ElectionRecord, h: HonestRecord) -> None:
    context = h.election.context
    ballot, _ = encrypt_ballot(
        manifest=context.manifest,
        public_key=context.joint_key,
        election_hash=context.election_hash,
        credential="intruder",
        choices={"chair": ["o2"], "board": [], "motions": []},
    )
    r.ballots.append(ballot.to_json())


def alter_ballot(r: ElectionRecord, h: HonestRecord) -> None:
    ciphertext = r.ballots[1]["questions"][0]["selections"][0]["ciphertext"]
    ciphertext["data"] = _point_plus_g(ciphertext["data"])


def swap_ballot_credential(r: ElectionRecord, h: HonestRecord) -> None:
    r.ballots[1]["credential"] = "voter-99"


def reorder_ballots(r: ElectionRecord, h: HonestRecord) -> None:
    r.ballots[0], r.ballots[1] = r.ballots[1], r.ballots[0]


def alter_aggregate(r: ElectionRecord, h: HonestRecord) -> None:
    r.aggregate[0]["ciphertext"]["data"] = _point_plus_g(r.aggregate[0]["ciphertext"]["data"])


def wrong_decryption_share(r: ElectionRecord, h: HonestRecord) -> None:
    share = r.shares[1]["shares"][0]
    share["share"] = _point_plus_g(share["share"])


def too_few_shares(r: ElectionRecord, h: HonestRecord) -> None:
    del r.shares[1:]


def alter_result(r: ElectionRecord, h: HonestRecord) -> None:
    r.results["questions"][0]["options"][0]["count"] += 1


def move_votes_between_options(r: ElectionRecord, h: HonestRecord) -> None:
    options = r.results["questions"][0]["options"]
    options[0]["count"], options[1]["count"] = options[1]["count"], options[0]["count"]


def swap_result_option_ids(r: ElectionRecord, h: HonestRecord) -> None:
    options = r.results["questions"][0]["options"]
    options[0]["option"], options[1]["option"] = options[1]["option"], options[0]["option"]


def swap_manifest_option_ids(r: ElectionRecord, h: HonestRecord) -> None:
    options = r.manifest["questions"][0]["options"]
    options[0]["id"], options[1]["id"] = options[1]["id"], options[0]["id"]


def alter_ballot_count(r: ElectionRecord, h: HonestRecord) -> None:
    r.results["ballots"] += 1


def inconsistent_tree_head(r: ElectionRecord, h: HonestRecord) -> None:
    """A correctly signed head whose root is not the board's (a forked log)."""
    head = r.heads[0]["head"]
    tree = MerkleTree([bytes(32)] * head["size"])
    forged = sign_tree_head(
        election_hash=bytes.fromhex(head["election_hash"]),
        size=head["size"],
        root=tree.root(),
        timestamp=head["timestamp"],
        secret_key=h.board_secret_key,
    )
    r.heads[0]["head"] = forged.to_json()


def bad_head_signature(r: ElectionRecord, h: HonestRecord) -> None:
    head = r.heads[-1]["head"]
    head["timestamp"] += 1


def missing_consistency_proof(r: ElectionRecord, h: HonestRecord) -> None:
    r.heads[-1]["consistency"] = None


def spoiled_choices_lie(r: ElectionRecord, h: HonestRecord) -> None:
    r.spoiled[0]["choices"]["chair"] = ["o3"]


def spoiled_ballot_cast(r: ElectionRecord, h: HonestRecord) -> None:
    r.spoiled[0]["ballot"] = copy.deepcopy(r.ballots[0])


def alter_trustee_commitment(r: ElectionRecord, h: HonestRecord) -> None:
    trustee = r.trustees[2]
    trustee["coefficients"][1] = _point_plus_g(trustee["coefficients"][1])


def alter_joint_key(r: ElectionRecord, h: HonestRecord) -> None:
    r.context["joint_key"] = _point_plus_g(r.context["joint_key"])


def alter_election_hash(r: ElectionRecord, h: HonestRecord) -> None:
    r.context["election_hash"] = "00" * 32


def extra_trustee_field(r: ElectionRecord, h: HonestRecord) -> None:
    r.trustees[0]["note"] = "x"


def extra_share_field(r: ElectionRecord, h: HonestRecord) -> None:
    r.shares[0]["shares"][0]["note"] = "x"


def uppercase_box_key(r: ElectionRecord, h: HonestRecord) -> None:
    r.trustees[0]["box_public_key"] = r.trustees[0]["box_public_key"].upper()


MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "trustee entry with an extra field": (extra_trustee_field, "trustees"),
    "decryption share with an extra field": (extra_share_field, "tally.shares"),
    "non-canonical hex in trustees": (uppercase_box_key, "trustees"),
    "ballot dropped": (drop_ballot, "board.heads"),
    "ballot duplicated": (duplicate_ballot, "board.credentials"),
    "ballot added": (add_foreign_ballot, "board.heads"),
    "ballot altered": (alter_ballot, "board.ballots"),
    "ballot moved to another voter": (swap_ballot_credential, "board.ballots"),
    "ballots reordered": (reorder_ballots, "board.heads"),
    "aggregate altered": (alter_aggregate, "tally.aggregate"),
    "decryption share wrong": (wrong_decryption_share, "tally.shares"),
    "too few decryption shares": (too_few_shares, "results"),
    "result altered": (alter_result, "results"),
    "votes moved between options": (move_votes_between_options, "results"),
    "result option ids swapped": (swap_result_option_ids, "results"),
    "manifest option ids swapped": (swap_manifest_option_ids, "manifest"),
    "ballot count altered": (alter_ballot_count, "results"),
    "tree head inconsistent": (inconsistent_tree_head, "board.heads"),
    "tree head signature broken": (bad_head_signature, "board.heads"),
    "consistency proof missing": (missing_consistency_proof, "board.heads"),
    "spoiled ballot choices lie": (spoiled_choices_lie, "spoiled"),
    "spoiled ballot also cast": (spoiled_ballot_cast, "spoiled"),
    "trustee commitment altered": (alter_trustee_commitment, "context"),
    "joint key altered": (alter_joint_key, "context"),
    "election hash altered": (alter_election_hash, "context"),
}


def test_honest_record_accepted(honest: HonestRecord, tmp_path: Path) -> None:
    path = tmp_path / "record.zip"
    write_record(path, honest.record)
    report = verify_record(path, workers=1)
    assert report.ok, report.render()
    assert verify_record(path, workers=2).ok
    assert securevote_main(["verify", str(path), "--workers", "1"]) == 0
    again = tmp_path / "again.zip"
    write_record(again, read_record(path))
    assert again.read_bytes() == path.read_bytes()


def test_a_revote_supersedes_the_earlier_ballot(election: Election, tmp_path: Path) -> None:
    """Re-voting: both ballots stay on the board, only the last of a credential counts."""
    from .factory import VOTES

    final = {"chair": ["o3"], "board": ["o4"], "motions": ["o2"]}
    honest = make_record(election, VOTES[:3], spoil=0, revotes=[(0, final)])
    path = tmp_path / "record.zip"
    write_record(path, honest.record)
    report = verify_record(path, workers=1)
    assert report.ok, report.render()
    assert "3 ballots count; 1 superseded" in report.render()
    counts = {
        (q["question"], o["option"]): o["count"]
        for q in honest.record.results["questions"]
        for o in q["options"]
    }
    assert honest.record.results["ballots"] == 3
    assert counts[("chair", "o3")] == 1  # voter 0's final choice
    assert counts[("chair", "o1")] == 1  # voter 2; voter 0's first choice no longer counts


def test_counting_a_superseded_ballot_is_caught(election: Election, tmp_path: Path) -> None:
    from .factory import VOTES

    final = {"chair": ["o3"], "board": ["o4"], "motions": ["o2"]}
    honest = make_record(election, VOTES[:3], spoil=0, revotes=[(0, final)])
    ballots = [EncryptedBallot.from_json(b) for b in honest.record.ballots]
    honest.record.aggregate = aggregate_document(
        aggregate_ballots(ballots, honest.election.context.manifest)
    )
    path = tmp_path / "record.zip"
    write_record(path, honest.record)
    report = verify_record(path, workers=1)
    assert "tally.aggregate" in {check.name for check in report.failures}


def test_threshold_subset_record_accepted(election: Election, tmp_path: Path) -> None:
    """Only trustees 1 and 3 take part in the tally: 2 of 3 suffice."""
    from .factory import VOTES

    record = make_record(election, VOTES[:2], spoil=0, trustees=(1, 3))
    path = tmp_path / "record.zip"
    write_record(path, record.record)
    assert verify_record(path, workers=1).ok


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_mutated_record_rejected(name: str, honest: HonestRecord, tmp_path: Path) -> None:
    mutate, expected_check = MUTATIONS[name]
    record = copy.deepcopy(honest.record)
    mutate(record, honest)
    path = tmp_path / "record.zip"
    write_record(path, record)
    report = verify_record(path, workers=1)
    assert not report.ok
    failed = {check.name for check in report.failures}
    assert expected_check in failed, report.render()
    assert securevote_main(["verify", str(path), "--workers", "1"]) == 1


def _rewrite(source: Path, target: Path, change: Callable[[str, bytes], bytes | None]) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = change(item.filename, old.read(item.filename))
            if data is not None:
                new.writestr(item, data)


@pytest.mark.parametrize(
    ("description", "change"),
    [
        ("missing results", lambda name, data: None if name == "results.json" else data),
        ("non-canonical JSON", lambda name, data: data + b" " if name == "context.json" else data),
        (
            "non-canonical ballot line",
            lambda name, data: (
                data.replace(b'{"credential"', b'{ "credential"', 1)
                if name == "board/ballots.jsonl"
                else data
            ),
        ),
        (
            "garbage ballot line",
            lambda name, data: data + b"not json\n" if name == "board/ballots.jsonl" else data,
        ),
    ],
)
def test_damaged_archive_rejected(
    description: str, change: Callable[[str, bytes], Any], honest: HonestRecord, tmp_path: Path
) -> None:
    path = tmp_path / "record.zip"
    write_record(path, honest.record)
    damaged = tmp_path / "damaged.zip"
    _rewrite(path, damaged, change)
    assert not verify_record(damaged, workers=1).ok


def test_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "record.zip"
    path.write_bytes(b"nope")
    report = verify_record(path, workers=1)
    assert not report.ok and report.failures[0].name == "record"


def test_trustee_proof_altered(honest: HonestRecord, tmp_path: Path) -> None:
    record = copy.deepcopy(honest.record)
    proof = record.trustees[1]["proof"]
    proof["challenge"], proof["response"] = proof["response"], proof["challenge"]
    path = tmp_path / "record.zip"
    write_record(path, record)
    report = verify_record(path, workers=1)
    assert [c.name for c in report.failures] == ["trustees"]
    assert "trustee 2" in report.failures[0].detail


def test_parallel_verifier_names_the_bad_ballot(honest: HonestRecord, tmp_path: Path) -> None:
    record = copy.deepcopy(honest.record)
    alter_ballot(record, honest)
    path = tmp_path / "record.zip"
    write_record(path, record)
    report = verify_record(path, workers=2)
    failed = {check.name: check.detail for check in report.failures}
    assert "board.ballots" in failed
    assert failed["board.ballots"].startswith("ballot #1 ")


def test_context_from_documents(honest: HonestRecord) -> None:
    record = honest.record
    context = context_from_documents(
        manifest=record.manifest, trustees=record.trustees, threshold=record.context["threshold"]
    )
    assert context.election_hash == honest.election.context.election_hash
    assert context.problems() == []
