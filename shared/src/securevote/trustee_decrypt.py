"""``securevote trustee decrypt``: a trustee's decryption shares for an election's tally.

    securevote trustee decrypt --url https://vote.example.org --election ID \\
        --key-file trustee.key --email me@example.org

Logs in (password from ``SECUREVOTE_TRUSTEE_PASSWORD`` or a prompt), fetches the encrypted
tally (``GET /api/results/elections/{id}/aggregate``), checks that it is for the election the
key file's ceremony produced (same election hash), computes here, with the key share from the
key file, one decryption share per option with its Chaum-Pedersen proof (docs/protocol.md §8),
and posts them (``POST …/shares``). The key share never leaves this machine. Only the tally
is ever decrypted: the server has nothing else to offer, and the proofs bind each share to
the aggregate ciphertext it is for.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx

from securevote.ballots import tally_label
from securevote.crypto.elgamal import Ciphertext
from securevote.crypto.threshold import KeyShare, compute_decryption_share


class DecryptError(Exception):
    """The decryption could not be done; the message says why (never a secret)."""


class _Requester(Protocol):
    def _request(self, method: str, path: str, body: Any = None) -> Any: ...


def decryption_shares(
    *, key_share: KeyShare, aggregate: list[Mapping[str, Any]], election_hash: bytes
) -> dict[str, Any]:
    """The body of ``POST …/shares``: ``{"trustee": j, "shares": [...]}`` (manifest order)."""
    shares = []
    for entry in aggregate:
        question, option = str(entry["question"]), str(entry["option"])
        share = compute_decryption_share(
            key_share=key_share,
            ciphertext=Ciphertext.from_json(entry["ciphertext"]),
            election_hash=election_hash,
            label=tally_label(question, option),
        )
        shares.append(
            {
                "question": question,
                "option": option,
                "share": share.share.hex(),
                "proof": share.proof.to_json(),
            }
        )
    return {"trustee": key_share.index, "shares": shares}


def decrypt(
    api: _Requester,
    *,
    election_id: str,
    key_share: KeyShare,
    election_hash: str | None = None,
) -> dict[str, Any]:
    """Fetch the aggregate, compute and post this trustee's shares; the server's answer.

    ``api`` is anything with the trustee API's ``_request(method, path, body)`` (the
    ceremony's :class:`securevote.trustee.Api`, logged in as the trustee)."""
    base = f"/api/results/elections/{election_id}"
    document = api._request("GET", f"{base}/aggregate")
    if election_hash is not None and document["election_hash"] != election_hash:
        raise DecryptError(
            "the server's tally is for another election hash than your key file's ceremony"
        )
    body = decryption_shares(
        key_share=key_share,
        aggregate=document["aggregate"],
        election_hash=bytes.fromhex(document["election_hash"]),
    )
    answer: dict[str, Any] = api._request("POST", f"{base}/shares", body)
    return answer


def _decrypt(args: argparse.Namespace) -> int:
    from securevote.trustee import Api, KeyFile, TrusteeError, _password

    password = _password()
    if password is None:
        return 2
    api = Api(args.url, email=args.email, password=password, totp_code=args.totp_code, timeout=60)
    try:
        keys = KeyFile.load(args.key_file)
        key_share = keys.key_share(args.election)
        if key_share is None:
            raise DecryptError(
                f"{args.key_file} holds no key share for election {args.election} "
                "(is its key ceremony complete? run securevote trustee ceremony)"
            )
        record = keys.document["elections"].get(args.election) or {}
        api.login()
        answer = decrypt(
            api,
            election_id=args.election,
            key_share=key_share,
            election_hash=record.get("election_hash"),
        )
    except (TrusteeError, DecryptError, httpx.HTTPError) as exc:
        print(f"securevote: {exc}", file=sys.stderr)
        return 1
    finally:
        api.close()
    received = ", ".join(str(i) for i in answer["shares_from"])
    print(
        f"Posted the decryption shares of trustee {answer['trustee']}. Shares so far from "
        f"trustees {received} (threshold {answer['threshold']}); "
        + ("the tally is decrypted." if answer["decrypted"] else "waiting for more trustees.")
    )
    return 0


def add_decrypt_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``decrypt`` to the ``securevote trustee`` subcommands."""
    decrypt_parser = commands.add_parser(
        "decrypt",
        help="post your decryption shares for an election's tally (with proofs)",
        description="Exit status: 0 posted, 1 error or refused, 2 no password.",
    )
    decrypt_parser.add_argument("--url", required=True, help="the secure-vote server")
    decrypt_parser.add_argument("--election", required=True, help="the election's id")
    decrypt_parser.add_argument(
        "--key-file", type=Path, required=True, help="your key file (with the key share)"
    )
    decrypt_parser.add_argument("--email", required=True, help="your trustee account's email")
    decrypt_parser.add_argument("--totp-code", help="the current code, if your account has 2FA")
    decrypt_parser.set_defaults(func=_decrypt)
