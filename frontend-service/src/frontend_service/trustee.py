"""The trustee's pages: where an election's key ceremony and tally stand, and what this
trustee must do next, with the exact ``securevote trustee`` command.

Read-only on purpose: a trustee's secrets (the box key, the polynomial, the key share) live
in their key file on their own machine and are used only by the command line tool; no form
here takes or shows one. The console only reads the ceremony status
(``GET /api/elections/{id}/ceremony``) and the tally progress (``GET
/api/results/elections/{id}/tally``), which the trustee may read for the elections they are
named for.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from frontend_service.admin import Token, checked_id, load_election, optional, page
from frontend_service.errors import PageError
from frontend_service.security import require_csrf
from securevote.config import Settings

router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(require_csrf)])
KEY_FILE = "trustee.key"


@dataclass(frozen=True)
class Step:
    """What the trustee does next: a sentence, and the commands to run (may be none)."""

    text: str
    commands: tuple[str, ...] = ()


def _commands(settings: Settings, election_id: str, email: str, totp: bool) -> dict[str, str]:
    common = (
        f"--url {shlex.quote(settings.public_url)} --election {election_id} "
        f"--key-file {KEY_FILE} --email {shlex.quote(email)}"
        + (" --totp-code CODE" if totp else "")
    )
    return {
        "keygen": f"securevote trustee keygen --out {KEY_FILE}",
        "ceremony": f"securevote trustee ceremony {common} --wait 600",
        "decrypt": f"securevote trustee decrypt {common}",
    }


def ceremony_step(ceremony: dict[str, Any], me: dict[str, Any] | None, cmd: dict[str, str]) -> Step:
    """The trustee's next step in the key ceremony, from its public status."""
    status = ceremony["status"]
    run = (cmd["ceremony"],)
    if status == "not_configured":
        return Step("The organisers have not finished naming the trustees yet. Come back later.")
    if status == "failed":
        return Step("The ceremony failed. The organisers restart it; then run the command again.")
    if me is None:
        return Step("You are not one of this election's trustees.")
    if me["disqualified"]:
        return Step("You were disqualified in this ceremony: there is nothing more for you to do.")
    if status == "complete":
        return Step(
            "The ceremony is complete. If you have not run the command since it completed, run "
            "it once more: it computes your key share, checks it and keeps it in your key file. "
            "Keep that file safe and offline until the tally.",
            run,
        )
    if not me["registered"]:
        return Step(
            "Create your key file (once, on your own computer), then register its public key "
            "and take every step the ceremony allows. With --wait the command keeps going until "
            "the ceremony is complete.",
            (cmd["keygen"], cmd["ceremony"]),
        )
    if status == "registering":
        return Step(
            "Waiting for the other trustees to register. Run the command again, or keep it "
            "running with --wait.",
            run,
        )
    if status == "dealing" and not me["committed"]:
        return Step("Run the command: it deals your shares to the other trustees.", run)
    if status == "verifying" and me["verification"] == "pending":
        return Step("Run the command: it checks the shares the others dealt to you.", run)
    accused = [
        c for c in ceremony["complaints"] if c["accused"] == me["index"] and c["status"] == "open"
    ]
    if accused:
        return Step(
            "A complaint names you: run the command, it answers by revealing the share concerned.",
            run,
        )
    return Step("You have done your part for now; waiting for the other trustees.", run)


def tally_step(tally: dict[str, Any] | None, index: int | None, cmd: dict[str, str]) -> Step:
    """Whether this trustee's decryption share is awaited or received."""
    if tally is None:
        return Step("The tally status is not available right now.")
    if tally["status"] == "failed":
        return Step(
            "The tally stopped before every ballot was added up; the organisers restart it "
            "once the cause is fixed. Nothing to do until the tally is done."
        )
    if tally["status"] != "done":
        return Step("The ballots are not added up yet: nothing to do until the tally is done.")
    if index is not None and index in tally["shares_from"]:
        return Step("Your decryption share was received and checked.")
    if tally["decrypted"]:
        return Step(
            "The tally is decrypted: enough trustees posted their shares, yours is not needed."
        )
    return Step(
        "Your decryption share is awaited: run the command on the computer with your key file. "
        "It decrypts only the encrypted tally, with proofs.",
        (cmd["decrypt"],),
    )


@router.get("/elections/{election_id}/trustee")
async def trustee_status(request: Request, election_id: str, token: Token) -> Response:
    election_id = checked_id(election_id)
    election = await load_election(request, token, election_id)
    who = await optional(request, "auth", "/api/auth/me", token)
    ceremony = await optional(request, "election", f"/api/elections/{election_id}/ceremony", token)
    if who is None or ceremony is None:
        raise PageError(503, "The ceremony status cannot be read right now.")
    account = who["account"]
    mine = next((t for t in ceremony["trustees"] if t["account_id"] == account["id"]), None)
    settings: Settings = request.app.state.settings
    cmd = _commands(settings, election_id, account["email"], bool(account.get("totp_enabled")))
    tally = None
    decrypt = None
    if election["state"] in ("closed", "tallied", "published"):
        tally = await optional(
            request, "results", f"/api/results/elections/{election_id}/tally", token
        )
        decrypt = tally_step(tally, mine["index"] if mine else None, cmd)
    return page(
        request,
        "admin/trustee.html",
        {
            "title": f"Trustee: {election['title']}",
            "election": election,
            "ceremony": ceremony,
            "mine": mine,
            "step": ceremony_step(ceremony, mine, cmd),
            "tally": tally,
            "decrypt": decrypt,
            "totp": bool(account.get("totp_enabled")),
        },
    )
