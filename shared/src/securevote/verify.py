"""`securevote verify RECORD`: check an election record completely (docs/protocol.md §11).

`verify_record` returns a `Report` listing every check with its outcome; a failure names the
check and the ballot (board index and tracker), trustee or option concerned.  Ballot proofs are
checked on all cores; everything else is cheap and runs in the calling process.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from securevote.ballots import (
    GROUP_NAME,
    PROTOCOL_VERSION,
    TRACKER_TAG,
    BallotError,
    ElectionContext,
    EncryptedBallot,
    Manifest,
    ballot_problems,
    counted_board_indexes,
    spoiled_ballot_problems,
    tally_label,
)
from securevote.crypto.elgamal import Ciphertext
from securevote.crypto.group import IDENTITY, GroupError, Point, Scalar, base_mul
from securevote.crypto.hashing import hash256
from securevote.crypto.merkle import (
    MerkleTree,
    TreeHead,
    leaf_hash,
    verify_consistency,
    verify_tree_head,
)
from securevote.crypto.native import Accumulator
from securevote.crypto.proofs import ProofError
from securevote.crypto.threshold import (
    CeremonyError,
    DecryptionShare,
    combine_decryption_shares,
    public_share,
    verify_decryption_share,
)
from securevote.record import (
    RECORD_FORMAT,
    ElectionRecord,
    RecordError,
    context_from_documents,
    iter_ballot_lines,
    read_record,
)

CHUNK_SIZE = 256
MAX_DETAILS = 20

OptionKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def record(self, name: str, problems: Sequence[str], success: str = "ok") -> bool:
        """Add check `name`: passed if `problems` is empty, else failed listing them."""
        if not problems:
            self.checks.append(Check(name, True, success))
            return True
        shown = list(problems[:MAX_DETAILS])
        if len(problems) > MAX_DETAILS:
            shown.append(f"... and {len(problems) - MAX_DETAILS} more")
        self.checks.append(Check(name, False, "; ".join(shown)))
        return False

    def render(self) -> str:
        lines = [f"{'PASS' if c.ok else 'FAIL'}  {c.name}: {c.detail}" for c in self.checks]
        verdict = "RECORD VERIFIED" if self.ok else f"RECORD REJECTED ({len(self.failures)} failed)"
        return "\n".join([*lines, verdict])


# --- Ballots (parallel) -------------------------------------------------------------------


@dataclass
class _BoardScan:
    trackers: list[bytes] = field(default_factory=list)
    credentials: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    sums: dict[OptionKey, tuple[Point, Point]] = field(default_factory=dict)


_worker: dict[str, Any] = {}


def _init_worker(manifest: dict[str, Any], public_key: bytes, election_hash: bytes) -> None:
    _worker["manifest"] = Manifest.model_validate(manifest)
    _worker["public_key"] = Point(public_key)
    _worker["election_hash"] = election_hash


def _scan_chunk(start: int, lines: list[bytes]) -> _BoardScan:
    manifest: Manifest = _worker["manifest"]
    public_key: Point = _worker["public_key"]
    election_hash: bytes = _worker["election_hash"]
    scan = _BoardScan()
    sums: dict[OptionKey, tuple[Accumulator, Accumulator]] = {}
    for offset, line in enumerate(lines):
        index = start + offset
        tracker = hash256(TRACKER_TAG, election_hash, line)
        scan.trackers.append(tracker)
        name = f"ballot #{index} (tracker {tracker.hex()[:16]})"
        try:
            ballot = EncryptedBallot.from_json(json.loads(line))
        except (BallotError, ValueError, RecursionError):
            scan.credentials.append("")
            scan.problems.append(f"{name}: malformed")
            continue
        scan.credentials.append(ballot.credential)
        if ballot.canonical_bytes() != line:
            scan.problems.append(f"{name}: not in canonical form")
            continue
        problems = ballot_problems(
            ballot, manifest=manifest, public_key=public_key, election_hash=election_hash
        )
        if problems:
            scan.problems.append(f"{name}: {problems[0]}")
            continue
        for question in ballot.questions:
            for selection in question.selections:
                key = (question.question_id, selection.option_id)
                if key not in sums:
                    sums[key] = (Accumulator(), Accumulator())
                pad, data = sums[key]
                pad.add(selection.ciphertext.pad.encoding)
                data.add(selection.ciphertext.data.encoding)
    scan.sums = {key: (pad.point(), data.point()) for key, (pad, data) in sums.items()}
    return scan


def _scan_chunk_star(arguments: tuple[int, list[bytes]]) -> _BoardScan:
    return _scan_chunk(*arguments)


def _chunks(lines: Iterable[bytes]) -> Iterator[tuple[int, list[bytes]]]:
    chunk: list[bytes] = []
    start = 0
    for line in lines:
        chunk.append(line)
        if len(chunk) == CHUNK_SIZE:
            yield start, chunk
            start += len(chunk)
            chunk = []
    if chunk:
        yield start, chunk


def _merge(total: _BoardScan, part: _BoardScan) -> None:
    total.trackers += part.trackers
    total.credentials += part.credentials
    total.problems += part.problems
    for key, (pad, data) in part.sums.items():
        old_pad, old_data = total.sums.get(key, (IDENTITY, IDENTITY))
        total.sums[key] = (old_pad + pad, old_data + data)


def _scan_board(
    path: Path, manifest: Manifest, public_key: Point, election_hash: bytes, workers: int
) -> _BoardScan:
    arguments = (manifest.to_json(), public_key.encoding, election_hash)
    total = _BoardScan()
    chunks = _chunks(iter_ballot_lines(path))
    if workers <= 1:
        _init_worker(*arguments)
        for chunk in chunks:
            _merge(total, _scan_chunk(*chunk))
        return total
    with multiprocessing.get_context().Pool(workers, _init_worker, arguments) as pool:
        pending: deque[Any] = deque()
        for chunk in chunks:  # bounded window: never holds the whole board in memory
            pending.append(pool.apply_async(_scan_chunk_star, (chunk,)))
            if len(pending) >= 4 * workers:
                _merge(total, pending.popleft().get())
        while pending:
            _merge(total, pending.popleft().get())
    return total


# --- The checks ---------------------------------------------------------------------------


def _context(record: ElectionRecord, report: Report) -> tuple[ElectionContext, bytes] | None:
    try:
        manifest = Manifest.model_validate(record.manifest)
    except ValidationError as error:
        report.record("manifest", [f"invalid: {error.error_count()} error(s)"])
        return None
    document = record.context
    problems = [] if manifest.to_json() == record.manifest else ["not normalised"]
    if isinstance(document, dict) and document.get("manifest_hash") != manifest.manifest_hash.hex():
        problems.append("does not match the manifest_hash in context.json")
    if not report.record("manifest", problems):
        return None
    expected_keys = {
        "format",
        "protocol",
        "group",
        "manifest_hash",
        "election_hash",
        "threshold",
        "trustee_count",
        "joint_key",
        "board_public_key",
    }
    if not isinstance(document, dict) or set(document) != expected_keys:
        report.record("context", ["context.json has the wrong fields"])
        return None
    trustee_keys = {"index", "name", "box_public_key", "coefficients", "proof"}
    if not isinstance(record.trustees, list) or any(
        not isinstance(t, dict) or set(t) != trustee_keys for t in record.trustees
    ):
        report.record("trustees", ["trustees.json entries have the wrong fields"])
        return None
    try:
        context = context_from_documents(
            manifest=record.manifest, trustees=record.trustees, threshold=document["threshold"]
        )
        problems = context.problems()
    except (KeyError, TypeError, ValueError) as error:
        report.record("trustees", [f"malformed trustees.json: {error}"])
        return None
    identities = context.trustees
    if not report.record("trustees", problems, f"{len(identities)} commitments and proofs valid"):
        return None
    board_key = document["board_public_key"]
    problems = []
    if (document["format"], document["protocol"], document["group"]) != (
        RECORD_FORMAT,
        PROTOCOL_VERSION,
        GROUP_NAME,
    ):
        problems.append("unknown record format, protocol or group")
    if document["trustee_count"] != len(identities):
        problems.append("trustee_count does not match trustees.json")
    if document["joint_key"] != context.joint_key.hex():
        problems.append("joint_key is not the sum of the trustees' constant-term commitments")
    if document["election_hash"] != context.election_hash.hex():
        problems.append("election_hash does not match manifest, trustees and joint key")
    board_key_bytes = _hex_bytes(board_key, 32)
    if board_key_bytes is None:
        problems.append("board_public_key is not a 32-byte lowercase hex key")
    if not report.record("context", problems, f"election hash {context.election_hash.hex()}"):
        return None
    assert board_key_bytes is not None
    return context, board_key_bytes


def _hex_bytes(text: object, size: int) -> bytes | None:
    if not isinstance(text, str) or len(text) != 2 * size:
        return None
    try:
        data = bytes.fromhex(text)
    except ValueError:
        return None
    return data if data.hex() == text else None


def _check_heads(
    record: ElectionRecord,
    report: Report,
    trackers: Sequence[bytes],
    election_hash: bytes,
    board_key: bytes,
) -> None:
    tree = MerkleTree(leaf_hash(t) for t in trackers)
    problems: list[str] = []
    previous: TreeHead | None = None
    if not record.heads:
        problems.append("no signed tree head")
    for number, entry in enumerate(record.heads):
        name = f"tree head #{number}"
        try:
            if set(entry) != {"head", "consistency"}:
                raise ValueError("wrong fields")
            head = TreeHead.from_json(entry["head"])
            consistency = entry["consistency"]
            proof = None if consistency is None else [bytes.fromhex(h) for h in consistency]
        except (KeyError, TypeError, ValueError):
            problems.append(f"{name}: malformed")
            continue
        if head.election_hash != election_hash:
            problems.append(f"{name}: for another election")
        if not verify_tree_head(head, board_key):
            problems.append(f"{name}: bad signature")
        if head.size > tree.size or head.root != tree.root(head.size):
            problems.append(f"{name}: root does not match the first {head.size} board ballots")
        if previous is not None:
            if head.size < previous.size or head.timestamp < previous.timestamp:
                problems.append(f"{name}: goes backwards")
            elif proof is None or not verify_consistency(
                old_size=previous.size,
                new_size=head.size,
                old_root=previous.root,
                new_root=head.root,
                proof=proof,
            ):
                problems.append(f"{name}: no valid consistency proof from the previous head")
        previous = head
    if previous is not None and previous.size != len(trackers):
        problems.append(f"last tree head covers {previous.size} of {len(trackers)} ballots")
    report.record("board.heads", problems, f"{len(record.heads)} signed heads consistent")


def _check_spoiled(
    record: ElectionRecord, report: Report, context: ElectionContext, trackers: set[bytes]
) -> None:
    problems: list[str] = []
    for number, entry in enumerate(record.spoiled):
        name = f"spoiled ballot #{number}"
        try:
            ballot = EncryptedBallot.from_json(entry["ballot"])
            seed = _hex_bytes(entry["seed"], 32)
            choices = entry["choices"]
            if seed is None or set(entry) != {"ballot", "seed", "choices"}:
                raise ValueError("malformed")
            found = spoiled_ballot_problems(
                ballot,
                manifest=context.manifest,
                public_key=context.joint_key,
                election_hash=context.election_hash,
                seed=seed,
                choices=choices,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            problems.append(f"{name}: malformed")
            continue
        problems += [f"{name}: {problem}" for problem in found]
        if ballot.tracker in trackers:
            problems.append(f"{name}: was also cast on the board")
    report.record("spoiled", problems, f"{len(record.spoiled)} audited ballots open correctly")


def _check_board_uniqueness(report: Report, scan: _BoardScan) -> set[int]:
    """No ballot twice on the board; the board indexes superseded by a later ballot of the same
    credential (re-voting: only the last ballot of a credential counts, §8)."""
    duplicates = len(scan.trackers) - len(set(scan.trackers))
    counted = set(counted_board_indexes(scan.credentials))
    superseded = set(range(len(scan.credentials))) - counted
    report.record(
        "board.credentials",
        [f"{duplicates} ballot(s) appear more than once on the board"] if duplicates else [],
        f"{len(counted)} ballots count; {len(superseded)} superseded by a later ballot",
    )
    return superseded


def _remove_superseded(path: Path, scan: _BoardScan, superseded: set[int]) -> None:
    """Take the superseded ballots back out of the board sums (they are rare: one extra read
    of the board, parsing only those lines)."""
    if not superseded:
        return
    for index, line in enumerate(iter_ballot_lines(path)):
        if index not in superseded:
            continue
        try:
            ballot = EncryptedBallot.from_json(json.loads(line))
        except (BallotError, ValueError, RecursionError):
            continue  # already reported by board.ballots
        for question in ballot.questions:
            for selection in question.selections:
                key = (question.question_id, selection.option_id)
                pad, data = scan.sums.get(key, (IDENTITY, IDENTITY))
                scan.sums[key] = (pad - selection.ciphertext.pad, data - selection.ciphertext.data)


def _option_keys(manifest: Manifest) -> list[OptionKey]:
    return [(q.id, o) for q in manifest.questions for o in q.option_ids]


def _check_aggregate(
    record: ElectionRecord, report: Report, manifest: Manifest, scan: _BoardScan
) -> dict[OptionKey, Ciphertext] | None:
    keys = _option_keys(manifest)
    problems: list[str] = []
    aggregate: dict[OptionKey, Ciphertext] = {}
    try:
        if any(set(e) != {"question", "option", "ciphertext"} for e in record.aggregate):
            raise TypeError("wrong fields")
        listed = [(e["question"], e["option"]) for e in record.aggregate]
        if listed != keys:
            report.record("tally.aggregate", ["options differ from the manifest's"])
            return None
        for entry, key in zip(record.aggregate, keys, strict=True):
            aggregate[key] = Ciphertext.from_json(entry["ciphertext"])
    except (KeyError, TypeError, GroupError):
        report.record("tally.aggregate", ["malformed aggregate.json"])
        return None
    for key in keys:
        pad, data = scan.sums.get(key, (IDENTITY, IDENTITY))
        if aggregate[key] != Ciphertext(pad, data):
            problems.append(f"{key[0]}/{key[1]}: not the sum of the board's counted ballots")
    report.record(
        "tally.aggregate", problems, "equals the homomorphic sum of the board's counted ballots"
    )
    return aggregate


def _check_shares(
    record: ElectionRecord,
    report: Report,
    context: ElectionContext,
    aggregate: dict[OptionKey, Ciphertext],
) -> dict[OptionKey, dict[int, Point]]:
    keys = list(aggregate)
    valid: dict[OptionKey, dict[int, Point]] = {key: {} for key in keys}
    problems: list[str] = []
    seen: set[int] = set()
    for entry in record.shares:
        try:
            trustee = entry["trustee"]
            context.ceremony.trustee(trustee)
            if set(entry) != {"trustee", "shares"}:
                raise TypeError("wrong fields")
            listed = [(s["question"], s["option"]) for s in entry["shares"]]
        except (KeyError, TypeError, CeremonyError):
            problems.append("malformed trustee entry in shares.json")
            continue
        if trustee in seen or listed != keys:
            problems.append(f"trustee {trustee}: duplicated, or options differ from the manifest")
            continue
        seen.add(trustee)
        verification_key = public_share(commitments=context.commitments, index=trustee)
        for key, document in zip(keys, entry["shares"], strict=True):
            name = f"trustee {trustee} share for {key[0]}/{key[1]}"
            try:
                if set(document) != {"question", "option", "share", "proof"}:
                    raise KeyError("wrong fields")
                share = DecryptionShare.from_json({"trustee": trustee, **document})
            except (KeyError, TypeError, GroupError, ProofError, CeremonyError):
                problems.append(f"{name}: malformed")
                continue
            if verify_decryption_share(
                share=share,
                ciphertext=aggregate[key],
                public_share=verification_key,
                election_hash=context.election_hash,
                label=tally_label(*key),
            ):
                valid[key][trustee] = share.share
            else:
                problems.append(f"{name}: invalid proof")
    report.record("tally.shares", problems, f"shares of trustees {sorted(seen)} valid")
    return valid


def _check_results(
    record: ElectionRecord,
    report: Report,
    context: ElectionContext,
    aggregate: dict[OptionKey, Ciphertext],
    shares: dict[OptionKey, dict[int, Point]],
    ballot_count: int,
) -> None:
    results = record.results
    problems: list[str] = []
    try:
        counts = {
            (q["question"], o["option"]): o["count"]
            for q in results["questions"]
            for o in q["options"]
        }
        listed = [(q["question"], o["option"]) for q in results["questions"] for o in q["options"]]
        ballots = results["ballots"]
    except (KeyError, TypeError):
        report.record("results", ["malformed results.json"])
        return
    if set(results) != {"ballots", "questions"} or listed != list(aggregate):
        report.record("results", ["options differ from the manifest's"])
        return
    if ballots != ballot_count:
        problems.append(f"claims {ballots} ballots, the board has {ballot_count} that count")
    for key, ciphertext in aggregate.items():
        count = counts[key]
        name = f"{key[0]}/{key[1]}"
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= ballot_count:
            problems.append(f"{name}: count out of range")
            continue
        try:
            point = combine_decryption_shares(
                ciphertext=ciphertext, shares=shares[key], threshold=context.threshold
            )
        except CeremonyError:
            problems.append(f"{name}: fewer than {context.threshold} valid decryption shares")
            continue
        if point != base_mul(Scalar(count)):
            problems.append(f"{name}: count {count} is not the decrypted tally")
    report.record("results", problems, "every count is the decryption of its aggregate")


def verify_record(path: str | Path, *, workers: int | None = None) -> Report:
    """Check everything docs/protocol.md §11 lists; `workers` defaults to all cores."""
    path = Path(path)
    report = Report()
    try:
        record = read_record(path, load_ballots=False)
    except RecordError as error:
        report.record("record", [str(error)])
        return report
    report.record("record", [], "all files present, RFC 8785 canonical")
    setup = _context(record, report)
    if setup is None:
        return report
    context, board_key = setup
    workers = workers or os.cpu_count() or 1
    try:
        scan = _scan_board(
            path, context.manifest, context.joint_key, context.election_hash, workers
        )
    except (OSError, RecordError) as error:
        report.record("board.ballots", [f"unreadable: {error}"])
        return report
    report.record("board.ballots", scan.problems, f"{len(scan.trackers)} ballots, all proofs valid")
    superseded = _check_board_uniqueness(report, scan)
    _check_heads(record, report, scan.trackers, context.election_hash, board_key)
    _check_spoiled(record, report, context, set(scan.trackers))
    _remove_superseded(path, scan, superseded)
    aggregate = _check_aggregate(record, report, context.manifest, scan)
    if aggregate is None:
        return report
    shares = _check_shares(record, report, context, aggregate)
    counted = len(scan.trackers) - len(superseded)
    _check_results(record, report, context, aggregate, shares, counted)
    return report


def run_verify(record: Path, *, workers: int | None = None) -> int:
    """`securevote verify RECORD [--workers N]`: print the report; 0 only if every check
    passes."""
    try:
        report = verify_record(record, workers=workers)
    except Exception as error:  # a hostile record must never pass, even by crashing us
        print(f"FAIL  verifier error: {type(error).__name__}\nRECORD REJECTED")
        return 1
    print(report.render())
    sys.stdout.flush()
    return 0 if report.ok else 1
