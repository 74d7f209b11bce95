"""The election record: one zip archive of RFC 8785 JSON files (docs/protocol.md §10).

    manifest.json            the Manifest
    context.json             version, group, hashes, threshold, joint key, board key
    trustees.json            per trustee: identity, Feldman commitments, proof of knowledge
    board/ballots.jsonl      cast ballots in board order, one canonical JSON per line
    board/heads.json         signed tree heads, each with a consistency proof from the previous
    spoiled.json             audited ballots with their revealed seed and choices
    tally/aggregate.json     per option: the homomorphic sum of the cast ballots
    tally/shares.json        per trustee: a decryption share with proof for each option
    results.json             number of ballots and per option the count

Everything is public; the archive holds no secret.  `build_record` assembles one from the
protocol objects, `write_record` / `read_record` store and load it (the loader checks that
every file is present and canonical), and `iter_ballot_lines` streams the board.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from securevote.ballots import (
    GROUP_NAME,
    PROTOCOL_VERSION,
    ElectionContext,
    EncryptedBallot,
    Manifest,
    counted_ballots,
)
from securevote.crypto.elgamal import Ciphertext, discrete_log
from securevote.crypto.hashing import canonical_json
from securevote.crypto.merkle import TreeHead
from securevote.crypto.threshold import (
    DecryptionShare,
    TrusteeCommitment,
    TrusteeIdentity,
    combine_decryption_shares,
)

RECORD_FORMAT = "securevote-record/v1"
MANIFEST_FILE = "manifest.json"
CONTEXT_FILE = "context.json"
TRUSTEES_FILE = "trustees.json"
BALLOTS_FILE = "board/ballots.jsonl"
HEADS_FILE = "board/heads.json"
SPOILED_FILE = "spoiled.json"
AGGREGATE_FILE = "tally/aggregate.json"
SHARES_FILE = "tally/shares.json"
RESULTS_FILE = "results.json"
JSON_FILES = (
    MANIFEST_FILE,
    CONTEXT_FILE,
    TRUSTEES_FILE,
    HEADS_FILE,
    SPOILED_FILE,
    AGGREGATE_FILE,
    SHARES_FILE,
    RESULTS_FILE,
)
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)

OptionKey = tuple[str, str]


class RecordError(ValueError):
    """The archive is unreadable, incomplete or not canonical."""


@dataclass
class ElectionRecord:
    """The record's documents as JSON values (what the archive files contain)."""

    manifest: dict[str, Any]
    context: dict[str, Any]
    trustees: list[dict[str, Any]]
    heads: list[dict[str, Any]]
    spoiled: list[dict[str, Any]]
    aggregate: list[dict[str, Any]]
    shares: list[dict[str, Any]]
    results: dict[str, Any]
    ballots: list[dict[str, Any]] = field(default_factory=list)

    def documents(self) -> dict[str, Any]:
        return {
            MANIFEST_FILE: self.manifest,
            CONTEXT_FILE: self.context,
            TRUSTEES_FILE: self.trustees,
            HEADS_FILE: self.heads,
            SPOILED_FILE: self.spoiled,
            AGGREGATE_FILE: self.aggregate,
            SHARES_FILE: self.shares,
            RESULTS_FILE: self.results,
        }


@dataclass(frozen=True, slots=True)
class SpoiledBallot:
    """A ballot the voter chose to audit instead of casting, with what it should contain."""

    ballot: EncryptedBallot
    seed: bytes
    choices: Mapping[str, Sequence[str]]

    def to_json(self) -> dict[str, Any]:
        return {
            "ballot": self.ballot.to_json(),
            "seed": self.seed.hex(),
            "choices": {q: sorted(options) for q, options in self.choices.items()},
        }


def context_from_documents(
    *, manifest: Mapping[str, Any], trustees: Sequence[Mapping[str, Any]], threshold: int
) -> ElectionContext:
    """Rebuild the ElectionContext from manifest.json and trustees.json (raises ValueError).

    This only parses; `ElectionContext.problems()` and the verifier check it."""
    try:
        identities = tuple(
            TrusteeIdentity.from_json({k: t[k] for k in ("index", "name", "box_public_key")})
            for t in trustees
        )
        commitments = tuple(
            TrusteeCommitment.from_json({k: t[k] for k in ("index", "coefficients", "proof")})
            for t in trustees
        )
    except (KeyError, TypeError) as error:
        raise RecordError(f"malformed trustees: {error}") from None
    return ElectionContext(Manifest.model_validate(manifest), threshold, identities, commitments)


def context_document(context: ElectionContext, *, board_public_key: bytes) -> dict[str, Any]:
    return {
        "format": RECORD_FORMAT,
        "protocol": PROTOCOL_VERSION,
        "group": GROUP_NAME,
        "manifest_hash": context.manifest.manifest_hash.hex(),
        "election_hash": context.election_hash.hex(),
        "threshold": context.threshold,
        "trustee_count": len(context.trustees),
        "joint_key": context.joint_key.hex(),
        "board_public_key": board_public_key.hex(),
    }


def trustees_document(context: ElectionContext) -> list[dict[str, Any]]:
    commitments = {c.index: c for c in context.commitments}
    return [
        {**trustee.to_json(), **commitments[trustee.index].to_json()}
        for trustee in context.trustees
    ]


def head_document(head: TreeHead, consistency: Sequence[bytes] | None) -> dict[str, Any]:
    return {
        "head": head.to_json(),
        "consistency": None if consistency is None else [node.hex() for node in consistency],
    }


def aggregate_document(aggregate: Mapping[OptionKey, Ciphertext]) -> list[dict[str, Any]]:
    return [
        {"question": q, "option": o, "ciphertext": ciphertext.to_json()}
        for (q, o), ciphertext in aggregate.items()
    ]


def shares_document(
    shares: Mapping[int, Mapping[OptionKey, DecryptionShare]],
) -> list[dict[str, Any]]:
    return [
        {
            "trustee": trustee,
            "shares": [
                {"question": q, "option": o, "share": s.share.hex(), "proof": s.proof.to_json()}
                for (q, o), s in by_option.items()
            ],
        }
        for trustee, by_option in sorted(shares.items())
    ]


def results_document(
    context: ElectionContext, counts: Mapping[OptionKey, int], ballot_count: int
) -> dict[str, Any]:
    return {
        "ballots": ballot_count,
        "questions": [
            {
                "question": question.id,
                "options": [
                    {"option": option, "count": counts[(question.id, option)]}
                    for option in question.option_ids
                ],
            }
            for question in context.manifest.questions
        ],
    }


def decrypt_tally(
    *,
    context: ElectionContext,
    aggregate: Mapping[OptionKey, Ciphertext],
    shares: Mapping[int, Mapping[OptionKey, DecryptionShare]],
    bound: int = 1 << 24,
) -> dict[OptionKey, int]:
    """Combine (already verified) decryption shares and recover each count."""
    counts = {}
    for key, ciphertext in aggregate.items():
        by_trustee = {t: s[key].share for t, s in shares.items() if key in s}
        point = combine_decryption_shares(
            ciphertext=ciphertext, shares=by_trustee, threshold=context.threshold
        )
        counts[key] = discrete_log(point, bound=bound)
    return counts


def build_record(
    *,
    context: ElectionContext,
    board_public_key: bytes,
    ballots: Sequence[EncryptedBallot],
    heads: Sequence[tuple[TreeHead, Sequence[bytes] | None]],
    spoiled: Sequence[SpoiledBallot],
    aggregate: Mapping[OptionKey, Ciphertext],
    shares: Mapping[int, Mapping[OptionKey, DecryptionShare]],
    counts: Mapping[OptionKey, int],
) -> ElectionRecord:
    """Assemble the record; `heads` pairs each tree head with the consistency proof from the
    previous head (None for the first)."""
    return ElectionRecord(
        manifest=context.manifest.to_json(),
        context=context_document(context, board_public_key=board_public_key),
        trustees=trustees_document(context),
        heads=[head_document(head, proof) for head, proof in heads],
        spoiled=[s.to_json() for s in spoiled],
        aggregate=aggregate_document(aggregate),
        shares=shares_document(shares),
        results=results_document(context, counts, len(counted_ballots(ballots))),
        ballots=[b.to_json() for b in ballots],
    )


def write_record(path: str | Path, record: ElectionRecord) -> None:
    """Write the archive (deterministic: fixed file order and timestamps)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, document in record.documents().items():
            archive.writestr(zipfile.ZipInfo(name, _FIXED_TIME), canonical_json(document))
        lines = b"".join(canonical_json(ballot) + b"\n" for ballot in record.ballots)
        archive.writestr(zipfile.ZipInfo(BALLOTS_FILE, _FIXED_TIME), lines)


def _load_canonical(archive: zipfile.ZipFile, name: str) -> Any:
    try:
        data = archive.read(name)
    except KeyError:
        raise RecordError(f"{name}: missing from the record") from None
    try:
        document = json.loads(data)
    except ValueError:
        raise RecordError(f"{name}: not JSON") from None
    if canonical_json(document) != data:
        raise RecordError(f"{name}: not in RFC 8785 canonical form")
    return document


def read_record(path: str | Path, *, load_ballots: bool = True) -> ElectionRecord:
    """Load the small documents (and, unless told not to, the ballots).  Raises RecordError."""
    try:
        with zipfile.ZipFile(path) as archive:
            documents = {name: _load_canonical(archive, name) for name in JSON_FILES}
            if BALLOTS_FILE not in archive.namelist():
                raise RecordError(f"{BALLOTS_FILE}: missing from the record")
    except (OSError, zipfile.BadZipFile) as error:
        raise RecordError(f"cannot read the record archive: {error}") from None
    ballots = [json.loads(line) for line in iter_ballot_lines(path)] if load_ballots else []
    return ElectionRecord(
        manifest=documents[MANIFEST_FILE],
        context=documents[CONTEXT_FILE],
        trustees=documents[TRUSTEES_FILE],
        heads=documents[HEADS_FILE],
        spoiled=documents[SPOILED_FILE],
        aggregate=documents[AGGREGATE_FILE],
        shares=documents[SHARES_FILE],
        results=documents[RESULTS_FILE],
        ballots=ballots,
    )


def iter_ballot_lines(path: str | Path) -> Iterator[bytes]:
    """The board's ballots, one canonical JSON line each (without the newline), in order."""
    with zipfile.ZipFile(path) as archive, archive.open(BALLOTS_FILE) as raw:
        for line in raw:
            yield line.rstrip(b"\n")
