"""``securevote trustee``: a trustee's side of the key ceremony, on the trustee's own machine.

    securevote trustee keygen --out trustee.key
    securevote trustee ceremony --url https://vote.example.org --election ID \\
        --key-file trustee.key --email me@example.org [--wait 600]

``keygen`` creates the key file (mode 0600): an X25519 box key pair that other trustees seal
their shares to. ``ceremony`` logs in (the password from ``SECUREVOTE_TRUSTEE_PASSWORD`` or a
prompt), then does every step the ceremony allows now (docs/protocol.md §4):

1. registers the box public key;
2. once every trustee has registered: checks the parameters the server shows (the manifest
   hashes to the manifest hash, the ceremony hash is recomputed here), draws its polynomial
   (kept in the key file until the ceremony is complete), and posts its commitments with the
   proof and the sealed shares for the other trustees;
3. once every trustee has dealt: opens the shares addressed to it, checks each against its
   sender's commitments, and posts "ok" or complaints naming the senders;
4. answers complaints against it by revealing the share concerned (public by the protocol);
5. once complete: computes its key share (with any revealed shares), checks it against the
   public commitments and keeps it in the key file, for ``securevote trustee decrypt``.

Each run picks up where the last stopped; with ``--wait`` it keeps polling until the
ceremony is complete (or failed). Secrets (box secret key, polynomial, key share) never
leave this machine: the server sees public keys, commitments and sealed boxes only.

Key file (JSON, mode 0600)::

    {"format": "securevote-trustee-key/v1",
     "box_public_key": HEX32, "box_secret_key": HEX32,
     "elections": {ELECTION_ID: {"ceremony_id": …, "index": i, "ceremony_hash": HEX32,
                                 "polynomial": [HEX32, …] (until complete),
                                 "key_share": KeyShare.to_json() (once complete),
                                 "joint_public_key": HEX32, "election_hash": HEX32}}}
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pysodium

from securevote.ballots import ElectionContext, Manifest
from securevote.crypto.group import Scalar
from securevote.crypto.hashing import canonical_json
from securevote.crypto.threshold import (
    CeremonyParameters,
    Complaint,
    EncryptedShare,
    KeyShare,
    TrusteeCommitment,
    TrusteeIdentity,
    deal,
    generate_box_keypair,
    public_share,
    receive_shares,
    resolve_complaint,
)

KEY_FILE_FORMAT = "securevote-trustee-key/v1"
PASSWORD_ENV = "SECUREVOTE_TRUSTEE_PASSWORD"  # noqa: S105 (a variable name)
FINAL = ("complete", "failed")


class TrusteeError(Exception):
    """A problem the trustee must act on; the message says what (never a secret)."""


# --- Key file -----------------------------------------------------------------------------


def _write_private(path: Path, document: Mapping[str, Any], *, exclusive: bool) -> None:
    """Write JSON readable by the owner only; atomically (a temporary file, then rename)."""
    data = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
    if exclusive:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@dataclass
class KeyFile:
    """The trustee's key file: box key pair and, per election, the ceremony's secrets."""

    path: Path
    document: dict[str, Any]

    @classmethod
    def create(cls, path: Path) -> KeyFile:
        public, secret = generate_box_keypair()
        document = {
            "format": KEY_FILE_FORMAT,
            "box_public_key": public.hex(),
            "box_secret_key": secret.hex(),
            "elections": {},
        }
        try:
            _write_private(path, document, exclusive=True)
        except FileExistsError:
            raise TrusteeError(f"{path} exists already; it is not overwritten") from None
        return cls(path, document)

    @classmethod
    def load(cls, path: Path) -> KeyFile:
        try:
            mode = path.stat().st_mode
            document = json.loads(path.read_text())
        except FileNotFoundError:
            raise TrusteeError(f"no key file at {path} (securevote trustee keygen)") from None
        except (OSError, ValueError) as exc:
            raise TrusteeError(f"cannot read the key file {path}: {type(exc).__name__}") from None
        if mode & 0o077:
            raise TrusteeError(f"{path} is readable by others: chmod 600 {path}")
        if not isinstance(document, dict) or document.get("format") != KEY_FILE_FORMAT:
            raise TrusteeError(f"{path} is not a secure-vote trustee key file")
        document.setdefault("elections", {})
        return cls(path, document)

    def save(self) -> None:
        _write_private(self.path, self.document, exclusive=False)

    @property
    def box_public_key(self) -> bytes:
        return bytes.fromhex(self.document["box_public_key"])

    @property
    def box_secret_key(self) -> bytes:
        return bytes.fromhex(self.document["box_secret_key"])

    def election(self, election_id: str) -> dict[str, Any]:
        elections: dict[str, Any] = self.document["elections"]
        return elections.setdefault(election_id, {})  # type: ignore[no-any-return]

    def key_share(self, election_id: str) -> KeyShare | None:
        """The trustee's key share for the election once its ceremony is complete (for
        ``securevote trustee decrypt``)."""
        record = self.document["elections"].get(election_id) or {}
        share = record.get("key_share")
        return KeyShare.from_json(share) if share else None


# --- The API ------------------------------------------------------------------------------


class Api:
    """The election service's ceremony endpoints with the trustee's own login."""

    def __init__(
        self, url: str, *, email: str, password: str, totp_code: str | None, timeout: float
    ) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
        self._credentials = {"email": email, "password": password}
        if totp_code:
            self._credentials["totp_code"] = totp_code
        self._token = ""
        self.account_id = ""

    def login(self) -> None:
        response = self.http.post("/api/auth/login", json=self._credentials)
        if response.status_code != 200:
            raise TrusteeError(f"login refused ({response.status_code}): {_problem(response)}")
        self._token = response.json()["access_token"]
        me = self._request("GET", "/api/auth/me")
        self.account_id = str(me["account"]["id"])

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        for attempt in (1, 2):
            response = self.http.request(
                method, path, json=body, headers={"Authorization": f"Bearer {self._token}"}
            )
            if response.status_code == 401 and attempt == 1 and path != "/api/auth/me":
                self.login()  # the access token expired while waiting
                continue
            if response.status_code >= 400:
                raise ApiRefusal(response.status_code, _problem(response))
            return response.json()
        raise AssertionError("unreachable")

    def ceremony(self, election_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"/api/elections/{election_id}/ceremony")
        return result

    def step(self, election_id: str, index: int, method: str, name: str, body: Any = None) -> Any:
        path = f"/api/elections/{election_id}/ceremony/trustees/{index}/{name}"
        return self._request(method, path, body)

    def close(self) -> None:
        self.http.close()


class ApiRefusal(TrusteeError):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"the server refused ({status}): {detail}")
        self.status = status


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    detail = str(body.get("detail") or body.get("title") or "") if isinstance(body, dict) else ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        detail += " " + "; ".join(
            f"{'.'.join(str(p) for p in e.get('location', []))}: {e.get('message')}"
            for e in errors
            if isinstance(e, dict)
        )
    return detail.strip()


# --- The ceremony, step by step -----------------------------------------------------------


def parameters_from(state: Mapping[str, Any], *, election_id: str) -> CeremonyParameters:
    """The ceremony parameters, recomputed here from what the server shows, and checked."""
    manifest = Manifest.model_validate(state["manifest"])
    if manifest.election_id != election_id:
        raise TrusteeError("the server shows the manifest of another election")
    if manifest.manifest_hash.hex() != state["manifest_hash"]:
        raise TrusteeError("the manifest does not hash to the manifest hash the server shows")
    params = CeremonyParameters(
        manifest_hash=manifest.manifest_hash,
        threshold=int(state["threshold"]),
        trustees=tuple(
            TrusteeIdentity(t["index"], t["name"], bytes.fromhex(t["box_public_key"]))
            for t in state["trustees"]
        ),
    )
    if params.ceremony_hash.hex() != state["ceremony_hash"]:
        raise TrusteeError("the ceremony hash the server shows does not match its parameters")
    return params


def _seal_revealed(params: CeremonyParameters, sender: int, recipient: int, share: str) -> bytes:
    """A sealed box, to ourselves, of a share the sender revealed publicly (protocol §4.2
    message format), so that it goes through the same checks as the shares received."""
    message = {
        "ceremony": params.ceremony_hash.hex(),
        "sender": sender,
        "recipient": recipient,
        "share": share,
    }
    recipient_key = params.trustee(recipient).box_public_key
    return bytes(pysodium.crypto_box_seal(canonical_json(message), recipient_key))


class Ceremony:
    """One trustee in one election's ceremony; ``advance`` does what can be done now."""

    def __init__(self, api: Api, keys: KeyFile, election_id: str, out: Any = None) -> None:
        self.api = api
        self.keys = keys
        self.election_id = election_id
        self.out = out or sys.stdout

    def say(self, message: str) -> None:
        print(message, file=self.out, flush=True)

    def _me(self, state: Mapping[str, Any]) -> dict[str, Any]:
        for trustee in state["trustees"]:
            if trustee["account_id"] == self.api.account_id:
                return dict(trustee)
        raise TrusteeError("you are not a trustee of this election")

    def _record(self, state: Mapping[str, Any], index: int) -> dict[str, Any]:
        record = self.keys.election(self.election_id)
        if record.get("ceremony_id") != state["ceremony_id"]:
            if record.get("ceremony_id"):
                self.say("The ceremony was restarted: starting again.")
            record.clear()
            record.update(ceremony_id=state["ceremony_id"], index=index)
            self.keys.save()
        return record

    def _polynomial(self, record: Mapping[str, Any]) -> list[Scalar]:
        return [Scalar.from_hex(c) for c in record["polynomial"]]

    def advance(self) -> str:
        """Do every step possible now; the ceremony's status afterwards."""
        state = self.api.ceremony(self.election_id)
        if state["status"] == "not_configured":
            self.say("The organiser has not named the trustees yet.")
            return str(state["status"])
        me = self._me(state)
        index = int(me["index"])
        record = self._record(state, index)
        mine = self.keys.box_public_key.hex()
        if state["status"] == "failed":
            self.say(f"The ceremony failed: {state['detail']}")
            return "failed"
        if not me["registered"]:
            self.api.step(self.election_id, index, "PUT", "box-key", {"box_public_key": mine})
            self.say(f"Registered as trustee {index} ({me['name']}).")
            state = self.api.ceremony(self.election_id)
        elif me["box_public_key"] != mine:
            raise TrusteeError(
                "another box key is registered for you in this ceremony (another key file?); "
                "use that key file, or ask the organiser to restart the ceremony"
            )
        everyone = state["trustees"]
        if all(t["registered"] for t in everyone) and state["ceremony_hash"]:
            params = parameters_from(state, election_id=self.election_id)
            if not self._me(state)["committed"] and state["status"] == "dealing":
                self._deal(params, index, record, state)
                state = self.api.ceremony(self.election_id)
            if all(t["committed"] for t in state["trustees"]):
                if self._me(state)["verification"] == "pending":
                    self._verify(params, index, record, state)
                    state = self.api.ceremony(self.election_id)
                self._answer(index, record, state)
                state = self.api.ceremony(self.election_id)
                if state["status"] == "complete":
                    self._finish(params, index, record, state)
        if state["status"] not in FINAL:
            self.say(f"Ceremony {state['status']}: {state['detail']}")
        return str(state["status"])

    def _deal(
        self,
        params: CeremonyParameters,
        index: int,
        record: dict[str, Any],
        state: Mapping[str, Any],
    ) -> None:
        manifest = state["manifest"]
        self.say(
            f"Election {manifest['title']!r}: {len(manifest['questions'])} question(s); "
            f"{params.threshold} of {params.size} trustees needed to decrypt; "
            f"ceremony hash {params.ceremony_hash.hex()}."
        )
        if record.get("ceremony_hash") == params.ceremony_hash.hex() and record.get("polynomial"):
            dealing = deal(params=params, index=index, polynomial=self._polynomial(record))
        else:
            dealing = deal(params=params, index=index)
            # Kept before anything is sent, so that a retry sends the same commitments.
            record.update(
                ceremony_hash=params.ceremony_hash.hex(),
                polynomial=[c.hex() for c in dealing.polynomial],
            )
            self.keys.save()
        self.api.step(
            self.election_id,
            index,
            "POST",
            "dealing",
            {
                "ceremony_hash": params.ceremony_hash.hex(),
                "commitment": dealing.commitment.to_json(),
                "shares": [s.to_json() for s in dealing.shares if s.recipient != index],
            },
        )
        self.say("Posted the commitments and the sealed shares for the other trustees.")

    def _received(
        self, params: CeremonyParameters, index: int, record: Mapping[str, Any]
    ) -> list[EncryptedShare]:
        fetched = self.api.step(self.election_id, index, "GET", "shares")
        if fetched["ceremony_hash"] != params.ceremony_hash.hex():
            raise TrusteeError("the shares are for other ceremony parameters")
        shares = [EncryptedShare.from_json(s) for s in fetched["shares"]]
        own = deal(params=params, index=index, polynomial=self._polynomial(record))
        return [*shares, own.shares[index - 1]]  # the share it keeps for itself

    def _commitments(self, state: Mapping[str, Any]) -> dict[int, TrusteeCommitment]:
        return {
            int(t["index"]): TrusteeCommitment.from_json(t["commitment"])
            for t in state["trustees"]
            if t["commitment"]
        }

    def _verify(
        self,
        params: CeremonyParameters,
        index: int,
        record: dict[str, Any],
        state: Mapping[str, Any],
    ) -> None:
        key_share, complaints = receive_shares(
            params=params,
            index=index,
            box_public_key=self.keys.box_public_key,
            box_secret_key=self.keys.box_secret_key,
            commitments=self._commitments(state),
            shares=self._received(params, index, record),
        )
        body: dict[str, Any] = {"ceremony_hash": params.ceremony_hash.hex(), "result": "ok"}
        if complaints:
            body["result"] = "complaints"
            body["complaints"] = [{"accused": c.accused, "reason": c.reason} for c in complaints]
        self.api.step(self.election_id, index, "POST", "verification", body)
        if key_share is None:
            for complaint in complaints:
                self.say(f"Complaint against trustee {complaint.accused}: {complaint.reason}.")
        else:
            self.say("All shares received verify against their commitments.")

    def _answer(self, index: int, record: Mapping[str, Any], state: Mapping[str, Any]) -> None:
        for complaint in state["complaints"]:
            if complaint["accused"] != index or complaint["status"] != "open":
                continue
            accuser = int(complaint["accuser"])
            share = self._evaluate(record, accuser)
            self.api.step(
                self.election_id, index, "POST", "answers", {"accuser": accuser, "share": share}
            )
            self.say(f"Answered the complaint of trustee {accuser} by revealing its share.")

    def _evaluate(self, record: Mapping[str, Any], at: int) -> str:
        polynomial = self._polynomial(record)
        value = 0
        for coefficient in reversed(polynomial):
            value = value * at + coefficient.value
        return Scalar(value).hex()

    def _finish(
        self,
        params: CeremonyParameters,
        index: int,
        record: dict[str, Any],
        state: Mapping[str, Any],
    ) -> None:
        commitments = self._commitments(state)
        if not record.get("key_share"):
            shares = self._received(params, index, record)
            for complaint in state["complaints"]:
                if complaint["accuser"] != index:
                    continue
                accused = int(complaint["accused"])
                revealed = Scalar.from_hex(complaint["revealed_share"])
                if not resolve_complaint(
                    complaint=Complaint(index, accused, complaint["reason"]),
                    commitment=commitments[accused],
                    revealed_share=revealed,
                ):
                    raise TrusteeError(f"trustee {accused}'s revealed share does not verify")
                shares = [s for s in shares if s.sender != accused]
                shares.append(
                    EncryptedShare(
                        accused, index, _seal_revealed(params, accused, index, revealed.hex())
                    )
                )
            key_share, complaints = receive_shares(
                params=params,
                index=index,
                box_public_key=self.keys.box_public_key,
                box_secret_key=self.keys.box_secret_key,
                commitments=commitments,
                shares=shares,
            )
            if key_share is None:
                raise TrusteeError(
                    "the ceremony is complete but this trustee's shares do not verify: "
                    + "; ".join(f"trustee {c.accused}: {c.reason}" for c in complaints)
                )
        else:
            key_share = KeyShare.from_json(record["key_share"])
        if key_share.public != public_share(commitments=commitments.values(), index=index):
            raise TrusteeError("the key share does not match the public commitments")
        context = ElectionContext(
            manifest=Manifest.model_validate(state["manifest"]),
            threshold=params.threshold,
            trustees=params.trustees,
            commitments=tuple(commitments[t.index] for t in params.trustees),
        )
        if context.joint_key.hex() != state["joint_public_key"]:
            raise TrusteeError("the joint key the server shows is not the sum of the commitments")
        record.update(
            key_share=key_share.to_json(),
            joint_public_key=context.joint_key.hex(),
            election_hash=context.election_hash.hex(),
        )
        record.pop("polynomial", None)  # no longer needed: the key share is all that is kept
        self.keys.save()
        self.say(
            f"The ceremony is complete. Joint public key {context.joint_key.hex()}; "
            f"election hash {context.election_hash.hex()}. Your key share is in {self.keys.path}."
        )


# --- Commands -----------------------------------------------------------------------------


def _keygen(args: argparse.Namespace) -> int:
    try:
        keys = KeyFile.create(args.out)
    except TrusteeError as exc:
        print(f"securevote: {exc}", file=sys.stderr)
        return 1
    print(f"Created {keys.path} (readable by you only). Keep it safe and backed up.")
    print(f"Box public key: {keys.box_public_key.hex()}")
    return 0


def _password() -> str | None:
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    if not sys.stdin.isatty():
        print(
            f"securevote: no terminal to ask for the password; set {PASSWORD_ENV}",
            file=sys.stderr,
        )
        return None
    return getpass.getpass("Password: ")


def _ceremony(args: argparse.Namespace) -> int:
    password = _password()
    if password is None:
        return 2
    api = Api(args.url, email=args.email, password=password, totp_code=args.totp_code, timeout=30)
    try:
        keys = KeyFile.load(args.key_file)
        api.login()
        ceremony = Ceremony(api, keys, args.election)
        deadline = time.monotonic() + args.wait
        while True:
            status = ceremony.advance()
            if status in FINAL or time.monotonic() >= deadline:
                break
            time.sleep(args.interval)
    except (TrusteeError, httpx.HTTPError) as exc:
        print(f"securevote: {exc}", file=sys.stderr)
        return 1
    finally:
        api.close()
    return {"complete": 0, "failed": 4}.get(status, 3)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``securevote trustee …`` to the command."""
    trustee = subparsers.add_parser("trustee", help="a trustee's key ceremony (and decryption)")
    commands = trustee.add_subparsers(dest="trustee_command", required=True)

    keygen = commands.add_parser("keygen", help="create a key file (box key pair, mode 0600)")
    keygen.add_argument("--out", type=Path, required=True, help="the key file to create")
    keygen.set_defaults(func=_keygen)

    ceremony = commands.add_parser(
        "ceremony",
        help="take part in an election's key ceremony (every step possible now)",
        description="Exit status: 0 complete, 3 not complete yet (run again), 4 the ceremony "
        "failed (the organiser restarts it), 1 error, 2 no password.",
    )
    ceremony.add_argument("--url", required=True, help="the secure-vote server, e.g. https://…")
    ceremony.add_argument("--election", required=True, help="the election's id")
    ceremony.add_argument("--key-file", type=Path, required=True, help="from trustee keygen")
    ceremony.add_argument("--email", required=True, help="your trustee account's email")
    ceremony.add_argument("--totp-code", help="the current code, if your account has 2FA")
    ceremony.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep going (polling) until the ceremony is complete, at most this long",
    )
    ceremony.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    ceremony.set_defaults(func=_ceremony)

    from securevote.trustee_decrypt import add_decrypt_command  # results: decrypt the tally

    add_decrypt_command(commands)
