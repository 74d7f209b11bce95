"""The voter's side of the ballot box: signed receipts and the ``vote`` / ``check-receipt``
commands.

A **receipt** is the board's signed promise, given when a ballot is cast: "the ballot with
this tracker is leaf ``board_index`` of the board of ``election_hash``, and the board of
``tree_size`` (= board_index + 1) leaves has root ``root``". It is an Ed25519 signature (the
board's key, the same that signs tree heads) over a fixed-width, domain-separated message:

    "securevote/v1/receipt" || election_hash (32) || tracker (32) || u64be(board_index)
                            || u64be(tree_size) || root (32)                     (133 bytes)

It carries no time. With it a voter checks, at once, that the ballot is in that tree
(inclusion proof) and, later, that every later signed head extends that tree (consistency
proof): a board that dropped or changed the ballot would have to sign inconsistent heads.

``securevote vote`` redeems an invitation token (or uses a voter session it is given), fetches
the election's public context, re-computes the election hash itself, encrypts the choices on
this machine, casts, verifies the receipt and the inclusion proof, and saves the receipt.
``securevote check-receipt`` checks a saved receipt against the board's latest signed head.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hmac
import json
import secrets
import struct
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The protocol stack and the HTTP client load when a command runs, not when `securevote`
# builds its parser (every subcommand would pay for them).
if TYPE_CHECKING:
    import httpx

    from securevote.ballots import ElectionContext, EncryptedBallot, Manifest
    from securevote.crypto.merkle import TreeHead

PUBLIC_KEY_SIZE = 32  # Ed25519
SIGNATURE_SIZE = 64
RECEIPT_TAG = b"securevote/v1/receipt"
RECEIPT_FORMAT = "securevote-receipt/v1"
MAX_JSON_INT = 2**53 - 1
_RECEIPT_FIELDS = frozenset(
    {"election_hash", "tracker", "board_index", "tree_size", "root", "signature"}
)


class VoterError(Exception):
    """Something the voter must be told; the message never contains a secret."""


# --------------------------------------------------------------------------- receipts


def receipt_message(
    *, election_hash: bytes, tracker: bytes, board_index: int, tree_size: int, root: bytes
) -> bytes:
    """The 133 bytes a receipt signature covers (raises ValueError on a malformed field)."""
    for name, value in (("election_hash", election_hash), ("tracker", tracker), ("root", root)):
        if not isinstance(value, bytes | bytearray) or len(value) != 32:
            raise ValueError(f"{name} must be 32 bytes")
    for name, number in (("board_index", board_index), ("tree_size", tree_size)):
        if isinstance(number, bool) or not isinstance(number, int):
            raise ValueError(f"{name} must be an integer")
        if not 0 <= number <= MAX_JSON_INT:
            raise ValueError(f"{name} must be in [0, 2**53 - 1]")
    if board_index >= tree_size:
        raise ValueError("board_index must be below tree_size")
    return (
        RECEIPT_TAG
        + bytes(election_hash)
        + bytes(tracker)
        + struct.pack(">Q", board_index)
        + struct.pack(">Q", tree_size)
        + bytes(root)
    )


@dataclass(frozen=True)
class Receipt:
    election_hash: bytes
    tracker: bytes
    board_index: int
    tree_size: int
    root: bytes
    signature: bytes

    def message(self) -> bytes:
        return receipt_message(
            election_hash=self.election_hash,
            tracker=self.tracker,
            board_index=self.board_index,
            tree_size=self.tree_size,
            root=self.root,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "election_hash": self.election_hash.hex(),
            "tracker": self.tracker.hex(),
            "board_index": self.board_index,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, document: object) -> Receipt:
        """Parse strictly (exact keys, lowercase hex, integers); raise ValueError."""
        if not isinstance(document, Mapping) or set(document) != _RECEIPT_FIELDS:
            raise ValueError(f"a receipt has exactly the keys {sorted(_RECEIPT_FIELDS)}")

        def hex_field(name: str, size: int) -> bytes:
            value = document[name]
            if not isinstance(value, str) or len(value) != 2 * size or value.lower() != value:
                raise ValueError(f"{name} must be {size} bytes of lowercase hex")
            return bytes.fromhex(value)

        def int_field(name: str) -> int:
            value = document[name]
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer")
            return value

        receipt = cls(
            election_hash=hex_field("election_hash", 32),
            tracker=hex_field("tracker", 32),
            board_index=int_field("board_index"),
            tree_size=int_field("tree_size"),
            root=hex_field("root", 32),
            signature=hex_field("signature", SIGNATURE_SIZE),
        )
        receipt.message()  # range checks
        return receipt


def sign_receipt(
    *,
    election_hash: bytes,
    tracker: bytes,
    board_index: int,
    tree_size: int,
    root: bytes,
    secret_key: bytes,
) -> Receipt:
    """Sign a receipt with the board's Ed25519 key (libsodium's 64-byte secret key)."""
    message = receipt_message(
        election_hash=election_hash,
        tracker=tracker,
        board_index=board_index,
        tree_size=tree_size,
        root=root,
    )
    import pysodium

    signature = pysodium.crypto_sign_detached(message, bytes(secret_key))
    return Receipt(
        bytes(election_hash), bytes(tracker), board_index, tree_size, bytes(root), signature
    )


def verify_receipt(receipt: Receipt, public_key: bytes) -> bool:
    """True iff the receipt is well formed and signed by ``public_key``; never raises."""
    import pysodium

    if not isinstance(public_key, bytes | bytearray) or len(public_key) != PUBLIC_KEY_SIZE:
        return False
    try:
        message = receipt.message()
        if len(receipt.signature) != SIGNATURE_SIZE:
            return False
        pysodium.crypto_sign_verify_detached(receipt.signature, message, bytes(public_key))
    except (ValueError, TypeError):
        return False
    return True


def check_receipt_inclusion(receipt: Receipt, proof: Sequence[bytes]) -> bool:
    """The ballot is leaf ``board_index`` of the tree the receipt names."""
    from securevote.crypto.merkle import leaf_hash, verify_inclusion

    return verify_inclusion(
        leaf_hash=leaf_hash(receipt.tracker),
        index=receipt.board_index,
        size=receipt.tree_size,
        proof=list(proof),
        root=receipt.root,
    )


# --------------------------------------------------------------------------- the client


def _hex_list(values: object) -> list[bytes]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise VoterError("the board sent a malformed proof")
    try:
        return [bytes.fromhex(v) for v in values]
    except ValueError:
        raise VoterError("the board sent a malformed proof") from None


def _json(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        detail = ""
        with contextlib.suppress(ValueError, AttributeError):
            detail = str(response.json().get("detail") or response.json().get("title") or "")
        raise VoterError(f"{what} failed: HTTP {response.status_code} {detail}".rstrip())
    try:
        return response.json()
    except ValueError:
        raise VoterError(f"{what}: the server did not answer JSON") from None


def session_claims(session_token: str) -> dict[str, Any]:
    """The claims of a voter session JWT, read without verifying it: the voting service
    verifies it; the client only needs its election id and credential to encrypt."""
    try:
        payload = session_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        raise VoterError("the session token is not a JWT") from None
    if not isinstance(claims, dict) or claims.get("kind") != "voter":
        raise VoterError("the session token is not a voter session")
    if not isinstance(claims.get("eid"), str) or not isinstance(claims.get("cred"), str):
        raise VoterError("the voter session names no election or credential")
    return claims


@dataclass(frozen=True)
class PublicContext:
    election_id: str
    context: ElectionContext
    election_hash: bytes
    board_public_key: bytes
    state: str


def fetch_context(client: httpx.Client, election_id: str) -> PublicContext:
    """The election's public context, checked: the election hash is recomputed here from the
    manifest, trustees and their commitments (whose proofs are verified), never trusted."""
    from securevote.record import context_from_documents

    document = _json(
        client.get(f"/api/ballots/elections/{election_id}/context"), "fetching the election"
    )
    try:
        context = context_from_documents(
            manifest=document["manifest"],
            trustees=document["trustees"],
            threshold=document["threshold"],
        )
        claimed = bytes.fromhex(document["election_hash"])
        board_key = bytes.fromhex(document["board_public_key"])
    except (KeyError, TypeError, ValueError) as error:
        raise VoterError(f"the election context is malformed: {type(error).__name__}") from None
    problems = context.problems()
    if problems:
        raise VoterError("the election's key ceremony does not verify: " + "; ".join(problems))
    if not hmac.compare_digest(context.election_hash, claimed):
        raise VoterError("the server's election hash does not match the election's context")
    if len(board_key) != PUBLIC_KEY_SIZE:
        raise VoterError("the board key is malformed")
    return PublicContext(election_id, context, claimed, board_key, str(document.get("state")))


def parse_choices(manifest: Manifest, specs: Sequence[str]) -> dict[str, list[str]]:
    """``["Question=Option", …]`` → ``{question id: [option ids]}``; labels match case-
    insensitively, ids exactly. A question named with an empty option selects nothing; a
    question not named selects nothing (refused later if it needs a selection)."""
    choices: dict[str, list[str]] = {q.id: [] for q in manifest.questions}
    for spec in specs:
        question_text, sep, option_text = spec.partition("=")
        if not sep:
            raise VoterError(f"--choice {spec!r}: expected QUESTION=OPTION")
        question_text, option_text = question_text.strip(), option_text.strip()
        matches = [
            q
            for q in manifest.questions
            if q.id == question_text or q.label.casefold() == question_text.casefold()
        ]
        if len(matches) != 1:
            raise VoterError(f"--choice {spec!r}: no single question matches {question_text!r}")
        question = matches[0]
        if not option_text:
            continue
        options = [
            o
            for o in question.options
            if o.id == option_text or o.label.casefold() == option_text.casefold()
        ]
        if len(options) != 1:
            raise VoterError(f"--choice {spec!r}: no single option matches {option_text!r}")
        if options[0].id not in choices[question.id]:
            choices[question.id].append(options[0].id)
    for question in manifest.questions:
        count = len(choices[question.id])
        if not question.min_selections <= count <= question.max_selections:
            raise VoterError(
                f"question {question.label!r}: choose between {question.min_selections} and "
                f"{question.max_selections} options (you chose {count})"
            )
    return choices


def redeem(client: httpx.Client, token: str, secret: str | None) -> tuple[str, str]:
    body: dict[str, str] = {"token": token}
    if secret is not None:
        body["secret"] = secret
    document = _json(client.post("/api/auth/voter/redeem", json=body), "redeeming the token")
    try:
        return str(document["session_token"]), str(document["election_id"])
    except (KeyError, TypeError):
        raise VoterError("the redeem answer is malformed") from None


def _post_with_retries(
    client: httpx.Client, path: str, *, body: Mapping[str, Any], headers: Mapping[str, str]
) -> httpx.Response:
    """POST, retrying transport failures and a gateway's 502/503/504 (a replica that died
    mid-request): the idempotency key makes a retry return the receipt of a ballot that
    did land instead of casting twice, so the voter never loses it."""
    import httpx

    for attempt in range(RETRIES + 1):
        try:
            response = client.post(path, json=dict(body), headers=dict(headers))
        except httpx.TransportError:
            if attempt == RETRIES:
                raise
        else:
            if response.status_code not in RETRY_STATUSES or attempt == RETRIES:
                return response
        time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


RETRIES = 4
#: answers of a gateway whose upstream failed: the request may or may not have been applied
RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class CastOutcome:
    receipt: Receipt
    board_public_key: bytes
    election_id: str
    ballot: EncryptedBallot


def cast(
    client: httpx.Client,
    *,
    session_token: str,
    choice_specs: Sequence[str],
    election_id: str | None = None,
) -> CastOutcome:
    """Encrypt locally and cast; the receipt's signature and inclusion are checked here."""
    from securevote.ballots import encrypt_ballot

    claims = session_claims(session_token)
    if election_id is not None and claims["eid"] != election_id:
        raise VoterError("the session is for another election")
    public = fetch_context(client, claims["eid"])
    manifest = public.context.manifest
    choices = parse_choices(manifest, choice_specs)
    ballot, _seed = encrypt_ballot(
        manifest=manifest,
        public_key=public.context.joint_key,
        election_hash=public.election_hash,
        credential=claims["cred"],
        choices=choices,
    )
    response = _post_with_retries(
        client,
        f"/api/ballots/elections/{public.election_id}/cast",
        body={"ballot": ballot.to_json()},
        headers={
            "Authorization": f"Bearer {session_token}",
            "Idempotency-Key": secrets.token_urlsafe(24),
        },
    )
    document = _json(response, "casting the ballot")
    try:
        receipt = Receipt.from_json(document["receipt"])
        proof = _hex_list(document["inclusion_proof"])
    except (KeyError, TypeError, ValueError) as error:
        raise VoterError(f"the receipt is malformed: {error}") from None
    if receipt.tracker != ballot.tracker or receipt.election_hash != public.election_hash:
        raise VoterError("the receipt is not for the ballot this machine encrypted")
    if not verify_receipt(receipt, public.board_public_key):
        raise VoterError("the receipt's signature does not verify under the board key")
    if not check_receipt_inclusion(receipt, proof):
        raise VoterError("the inclusion proof of the receipt does not verify")
    return CastOutcome(receipt, public.board_public_key, public.election_id, ballot)


def receipt_file_document(outcome: CastOutcome) -> dict[str, Any]:
    return {
        "format": RECEIPT_FORMAT,
        "election_id": outcome.election_id,
        "board_public_key": outcome.board_public_key.hex(),
        "receipt": outcome.receipt.to_json(),
    }


@dataclass(frozen=True)
class ReceiptCheck:
    head: TreeHead
    counted: bool | None


def check_receipt(client: httpx.Client, document: Mapping[str, Any]) -> ReceiptCheck:
    """Check a saved receipt against the board now: the board key is the one pinned in the
    receipt file, the receipt's signature verifies, the latest signed head verifies, the
    ballot is included under that head, and the head is consistent with the receipt's tree."""
    from securevote.crypto.merkle import (
        TreeHead,
        leaf_hash,
        verify_consistency,
        verify_inclusion,
        verify_tree_head,
    )

    try:
        if document.get("format") != RECEIPT_FORMAT:
            raise ValueError("not a secure-vote receipt file")
        election_id = str(document["election_id"])
        pinned_key = bytes.fromhex(document["board_public_key"])
        receipt = Receipt.from_json(document["receipt"])
    except (KeyError, TypeError, ValueError) as error:
        raise VoterError(f"the receipt file is malformed: {error}") from None
    if not verify_receipt(receipt, pinned_key):
        raise VoterError("the receipt's signature does not verify under its board key")
    base = f"/api/ballots/elections/{election_id}/board"
    served_key = _json(client.get(f"{base}/key"), "fetching the board key")
    if served_key.get("public_key") != pinned_key.hex():
        raise VoterError("the board now serves a different key than the receipt was signed with")
    lookup = _json(client.get(f"{base}/trackers/{receipt.tracker.hex()}"), "looking up tracker")
    try:
        head = TreeHead.from_json(lookup["head"])
        proof = _hex_list(lookup["inclusion_proof"])
        board_index = lookup["board_index"]
    except (KeyError, TypeError, ValueError) as error:
        raise VoterError(f"the board's answer is malformed: {error}") from None
    if not verify_tree_head(head, pinned_key) or head.election_hash != receipt.election_hash:
        raise VoterError("the board's signed tree head does not verify")
    if board_index != receipt.board_index:
        raise VoterError("the board lists the ballot at another index than the receipt")
    if head.size < receipt.tree_size:
        raise VoterError("the board's latest head is older than the receipt")
    if not verify_inclusion(
        leaf_hash=leaf_hash(receipt.tracker),
        index=receipt.board_index,
        size=head.size,
        proof=proof,
        root=head.root,
    ):
        raise VoterError("the ballot is NOT included under the board's latest signed head")
    consistency = _json(
        client.get(f"{base}/consistency", params={"first": receipt.tree_size, "second": head.size}),
        "fetching the consistency proof",
    )
    if not verify_consistency(
        old_size=receipt.tree_size,
        new_size=head.size,
        old_root=receipt.root,
        new_root=head.root,
        proof=_hex_list(consistency.get("proof")),
    ):
        raise VoterError("the board's latest head is NOT consistent with the receipt")
    counted = lookup.get("counted")
    return ReceiptCheck(head, counted if isinstance(counted, bool) else None)


# --------------------------------------------------------------------------- commands


def _client(url: str) -> httpx.Client:
    import httpx

    return httpx.Client(base_url=url.rstrip("/"), timeout=30.0)


def _vote(args: argparse.Namespace) -> int:
    import httpx

    try:
        with _client(args.url) as client:
            session_token = args.session_token
            election_id = None
            if session_token is None:
                session_token, election_id = redeem(client, args.token, args.secret)
            outcome = cast(
                client,
                session_token=session_token,
                choice_specs=args.choice,
                election_id=election_id,
            )
    except VoterError as error:
        print(f"securevote vote: {error}", file=sys.stderr)
        return 1
    except httpx.HTTPError as error:
        print(f"securevote vote: cannot reach {args.url}: {type(error).__name__}", file=sys.stderr)
        return 1
    document = receipt_file_document(outcome)
    path: Path = args.receipt or Path(f"receipt-{outcome.receipt.tracker.hex()[:16]}.json")
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    receipt = outcome.receipt
    print(json.dumps(document, indent=2))
    print(f"ballot cast: tracker {receipt.tracker.hex()}")
    print(
        f"board index {receipt.board_index}; included in the signed tree of size "
        f"{receipt.tree_size} (inclusion proof verified)"
    )
    print(
        f"receipt saved to {path}; check it later with: "
        f"securevote check-receipt {path} --url {args.url}"
    )
    return 0


def _check_receipt(args: argparse.Namespace) -> int:
    import httpx

    try:
        document = json.loads(Path(args.receipt).read_text(encoding="utf-8"))
        with _client(args.url) as client:
            result = check_receipt(client, document)
    except (OSError, ValueError) as error:
        print(f"securevote check-receipt: cannot read the receipt: {error}", file=sys.stderr)
        return 1
    except VoterError as error:
        print(f"securevote check-receipt: FAILED: {error}", file=sys.stderr)
        return 1
    except httpx.HTTPError as error:
        print(
            f"securevote check-receipt: cannot reach {args.url}: {type(error).__name__}",
            file=sys.stderr,
        )
        return 1
    head = result.head
    print(
        "receipt OK: signature verifies; ballot included under the latest signed head "
        f"(size {head.size}, root {head.root.hex()}, time {head.timestamp}); "
        "that head is consistent with the receipt"
    )
    if result.counted is False:
        print("note: this ballot was superseded by a later ballot of the same voter")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vote`` and ``check-receipt`` to the ``securevote`` command."""
    vote = subparsers.add_parser(
        "vote", help="encrypt a ballot on this machine, cast it and check its receipt"
    )
    vote.add_argument("--url", required=True, help="the election site, e.g. https://vote.example")
    who = vote.add_mutually_exclusive_group(required=True)
    who.add_argument("--token", help="the invitation token from your mail")
    who.add_argument(
        "--session-token", help="an existing voter session (JWT) instead of an invitation token"
    )
    vote.add_argument("--secret", help="the second factor the election asks for, if any")
    vote.add_argument(
        "--choice",
        action="append",
        default=[],
        metavar="QUESTION=OPTION",
        help="a selection, by label (any case) or id; repeat for several",
    )
    vote.add_argument("--receipt", type=Path, help="where to save the receipt (JSON)")
    vote.set_defaults(func=_vote)

    check = subparsers.add_parser(
        "check-receipt", help="check a saved receipt against the board's latest signed head"
    )
    check.add_argument("receipt", type=Path, help="the receipt file `securevote vote` saved")
    check.add_argument("--url", required=True, help="the election site")
    check.set_defaults(func=_check_receipt)
