"""The admin console: login (with TOTP), elections, questions and options, the voter roll,
trustees and the key ceremony, the lifecycle, invitations and delivery, the board seal, the
tally (started, followed, and restarted after a failure) and publication.

Every page is rendered on the server; every change is a POST form carrying the CSRF token
(checked by the router's dependency) and answered with a redirect (POST/redirect/GET) or the
page again with the API's error. The admin's tokens never reach the browser: they live in
the sealed ``sv_admin`` cookie (see :mod:`frontend_service.sessions`).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from frontend_service import sessions
from frontend_service.backend import ApiError, call
from frontend_service.errors import PageError
from frontend_service.pages import rule_in_words
from frontend_service.rendering import render
from frontend_service.security import require_csrf
from frontend_service.sessions import AdminSession
from securevote.config import Settings

router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(require_csrf)])

# Messages after a redirect are chosen from this table by key: nothing the user typed is
# reflected from the address bar.
DONE = {
    "created": "The election was created.",
    "saved": "The election was saved.",
    "question-added": "The question was added.",
    "question-deleted": "The question was deleted.",
    "roll-cleared": "The voter roll was emptied.",
    "trustees": "The trustees were set.",
    "freeze": "The election is frozen: its definition can no longer change.",
    "open": "The election is open.",
    "close": "The election is closed.",
    "invitations": "Invitations are queued for sending.",
    "reminders": "Reminders are queued for sending.",
    "sealed": "The bulletin board is sealed.",
    "deleted": "The election was deleted.",
    "tally": "The tally has started.",
    "tally-restart": "The tally starts over from the first ballot.",
    "publish": "The results are published.",
    "resent": "A new voting link is queued for that voter; the old link stops working.",
}
STATES = ("draft", "frozen", "open", "closed", "tallied", "published")
AUDIT_PAGE = 50


class LoginRequired(Exception):
    """No valid admin session: send the browser to the login page."""


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def admin_token(request: Request) -> str:
    """The admin's current access token (refreshed when it is about to expire)."""
    session = sessions.from_request(request)
    if session is None:
        raise LoginRequired
    if session.expiring():
        try:
            tokens = await call(
                request,
                "auth",
                "POST",
                "/api/auth/refresh",
                json={"refresh_token": session.refresh_token},
            )
        except ApiError as error:
            if error.status in (401, 422):
                raise LoginRequired from None
            raise PageError(503, error.message) from None
        session = sessions.session_from_tokens(tokens)
        request.state.admin_refreshed = session
    request.state.admin_signed_in = True
    return session.access_token


Token = Annotated[str, Depends(admin_token)]


def _finish(request: Request, response: Response) -> Response:
    refreshed: AdminSession | None = getattr(request.state, "admin_refreshed", None)
    if refreshed is not None:
        sessions.store(response, settings_of(request), refreshed)
    return response


def page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    return _finish(request, render(request, template, context, status=status))


def redirect(request: Request, url: str) -> Response:
    return _finish(request, RedirectResponse(url, status_code=303))


def local_time(value: str, zone: str) -> str:
    """An API time (ISO 8601; UTC when it has no offset) as ``YYYY-MM-DD HH:MM`` in the
    election's time zone; the value as it came if it is not a time."""
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    except (ValueError, ZoneInfoNotFoundError):
        return value


def checked_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise PageError(404, "There is no such election.", title="Not found") from None


# --------------------------------------------------------------------------- login


@router.get("/login")
async def login_form(request: Request) -> Response:
    if sessions.from_request(request) is not None:
        return RedirectResponse("/admin", status_code=303)
    return render(request, "admin/login.html", {"title": "Sign in", "totp": False, "email": ""})


@router.post("/login")
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    totp_code: Annotated[str, Form(max_length=6)] = "",
) -> Response:
    body: dict[str, Any] = {"email": email, "password": password}
    if totp_code.strip():
        body["totp_code"] = totp_code.strip()
    try:
        tokens = await call(request, "auth", "POST", "/api/auth/login", json=body)
    except ApiError as error:
        needs_totp = error.code in ("totp_required", "totp_invalid")
        messages = {
            "invalid_credentials": "The e-mail address or the password is wrong.",
            "totp_required": "Enter the six-digit code from your authenticator app.",
            "totp_invalid": "That code is wrong or was already used. Enter the current code.",
            "too_many_attempts": "Too many attempts. Wait a few minutes, then try again.",
        }
        message = messages.get(error.code or "", "Signing in failed. Check what you typed.")
        return render(
            request,
            "admin/login.html",
            {
                "title": "Sign in",
                "totp": needs_totp,
                "email": email,
                "error": message if error.code != "totp_required" else None,
                "info": message if error.code == "totp_required" else None,
            },
            status=401 if error.status == 401 else 400 if error.status < 500 else 503,
        )
    response = RedirectResponse("/admin", status_code=303)
    sessions.store(
        response, settings_of(request), sessions.session_from_tokens(tokens, time.time())
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = sessions.from_request(request)
    if session is not None:
        # The cookie goes anyway; if this fails the refresh token just expires.
        with contextlib.suppress(ApiError):
            await call(
                request,
                "auth",
                "POST",
                "/api/auth/logout",
                json={"refresh_token": session.refresh_token},
            )
    response = RedirectResponse("/admin/login", status_code=303)
    sessions.clear(response, settings_of(request))
    return response


# --------------------------------------------------------------------------- elections


@router.get("")
async def elections(request: Request, token: Token, state: str = "") -> Response:
    params: dict[str, Any] = {"per_page": 200}
    if state in STATES:
        params["state"] = state
    try:
        me = await call(request, "auth", "GET", "/api/auth/me", token=token)
        listing = await call(
            request, "election", "GET", "/api/elections", token=token, params=params
        )
    except ApiError as error:
        if error.status == 401:
            raise LoginRequired from None
        raise PageError(error.status, error.message) from None
    return page(
        request,
        "admin/elections.html",
        {
            "title": "Elections",
            "me": me,
            "listing": listing,
            "state": state,
            "states": STATES,
            "can_edit": me["account"]["role"] in ("owner", "admin"),
        },
    )


def _zones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))


def _to_iso(local: str, zone: str, field: str) -> str:
    """A ``datetime-local`` value in the election's time zone, with its offset."""
    try:
        naive = datetime.fromisoformat(local)
        tz = ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError(f"{field}: give a date and time") from None
    if naive.tzinfo is not None:
        raise ValueError(f"{field}: give a local date and time")
    return naive.replace(tzinfo=tz).isoformat()


def _election_body(
    *,
    title: str,
    description: str,
    time_zone: str,
    opens_at: str,
    closes_at: str,
    second_factor: str,
    allow_revoting: str | None,
) -> dict[str, Any]:
    return {
        "title": title.strip(),
        "description": description.replace("\r\n", "\n"),
        "time_zone": time_zone,
        "opens_at": _to_iso(opens_at, time_zone, "Opens"),
        "closes_at": _to_iso(closes_at, time_zone, "Closes"),
        "settings": {
            "allow_revoting": allow_revoting == "on",
            "second_factor": second_factor
            if second_factor in ("none", "date_of_birth")
            else "none",
        },
    }


ElectionForm = dict[str, str]


@router.get("/elections/new")
async def new_election_form(request: Request, token: Token) -> Response:
    form = {"time_zone": "Europe/Zurich", "second_factor": "none", "allow_revoting": "on"}
    return page(
        request,
        "admin/election_form.html",
        {"title": "New election", "form": form, "zones": _zones(), "election": None},
    )


@router.post("/elections/new")
async def create_election(
    request: Request,
    token: Token,
    title: Annotated[str, Form(max_length=400)],
    time_zone: Annotated[str, Form(max_length=64)],
    opens_at: Annotated[str, Form(max_length=40)],
    closes_at: Annotated[str, Form(max_length=40)],
    description: Annotated[str, Form(max_length=20_000)] = "",
    second_factor: Annotated[str, Form(max_length=20)] = "none",
    allow_revoting: Annotated[str | None, Form(max_length=4)] = None,
) -> Response:
    form = {
        "title": title,
        "description": description,
        "time_zone": time_zone,
        "opens_at": opens_at,
        "closes_at": closes_at,
        "second_factor": second_factor,
        "allow_revoting": allow_revoting or "",
    }
    try:
        body = _election_body(
            title=title,
            description=description,
            time_zone=time_zone,
            opens_at=opens_at,
            closes_at=closes_at,
            second_factor=second_factor,
            allow_revoting=allow_revoting,
        )
        created = await call(request, "election", "POST", "/api/elections", token=token, json=body)
    except (ApiError, ValueError) as error:
        return page(
            request,
            "admin/election_form.html",
            {
                "title": "New election",
                "form": form,
                "zones": _zones(),
                "election": None,
                "error": str(error),
            },
            status=getattr(error, "status", 422) if getattr(error, "status", 422) < 500 else 502,
        )
    return redirect(request, f"/admin/elections/{created['id']}?done=created")


async def load_election(request: Request, token: str, election_id: str) -> dict[str, Any]:
    try:
        found: dict[str, Any] = await call(
            request, "election", "GET", f"/api/elections/{election_id}", token=token
        )
    except ApiError as error:
        if error.status == 401:
            raise LoginRequired from None
        raise PageError(error.status, error.message) from None
    return found


async def optional(request: Request, service: str, path: str, token: str) -> Any:
    """Data for a panel; None (the panel says it is unavailable) if the API refuses."""
    try:
        return await call(request, service, "GET", path, token=token)
    except ApiError:
        return None


async def _detail(
    request: Request,
    token: str,
    election_id: str,
    *,
    error: str | None = None,
    report: dict[str, Any] | None = None,
    status: int = 200,
    done: str = "",
) -> Response:
    election = await load_election(request, token, election_id)
    me = await optional(request, "auth", "/api/auth/me", token)
    role = me["account"]["role"] if me else "observer"
    can_edit = role in ("owner", "admin")
    readiness = await optional(
        request, "election", f"/api/elections/{election_id}/readiness", token
    )
    ceremony = await optional(request, "election", f"/api/elections/{election_id}/ceremony", token)
    mail = await optional(request, "auth", f"/api/auth/elections/{election_id}/mail", token)
    tally = None
    if election["state"] in ("closed", "tallied", "published"):
        tally = await optional(
            request, "results", f"/api/results/elections/{election_id}/tally", token
        )
    if tally and tally.get("failed_at"):
        tally["failed_at_local"] = local_time(tally["failed_at"], election["time_zone"])
    trustee_accounts: list[dict[str, Any]] = []
    if can_edit and election["state"] == "draft":
        accounts = await optional(request, "auth", "/api/auth/accounts", token)
        if accounts:
            trustee_accounts = [
                a for a in accounts["accounts"] if a["role"] == "trustee" and not a["disabled"]
            ]
    voters = None
    if can_edit:
        voters = await optional(request, "election", f"/api/elections/{election_id}/voters", token)
    delivery = None
    if mail:
        sent = sum(
            count
            for kinds in mail["messages"].values()
            for status_, count in kinds.items()
            if status_ in ("sent", "delivered")
        )
        delivery = {"sent": sent, "total": max(mail["tokens_issued"], mail["voters"], 1)}
    questions = [
        {
            **q,
            "rule": rule_in_words(q["min_selections"], q["max_selections"], len(q["options"])),
        }
        for q in election["questions"]
    ]
    form = {
        "title": election["title"],
        "description": election["description"],
        "time_zone": election["time_zone"],
        "opens_at": (election["opens_at_local"] or "")[:16],
        "closes_at": (election["closes_at_local"] or "")[:16],
        "second_factor": election["settings"]["second_factor"],
        "allow_revoting": "on" if election["settings"]["allow_revoting"] else "",
    }
    return page(
        request,
        "admin/election.html",
        {
            "title": election["title"],
            "election": election,
            "questions": questions,
            "readiness": readiness,
            "ceremony": ceremony,
            "mail": mail,
            "tally": tally,
            "delivery": delivery,
            "voters": voters,
            "trustee_accounts": trustee_accounts,
            "can_edit": can_edit,
            "role": role,
            "form": form,
            "zones": _zones(),
            "error": error,
            "report": report,
            "done": DONE.get(done),
        },
        status=status,
    )


@router.get("/elections/{election_id}")
async def election_detail(
    request: Request, election_id: str, token: Token, done: str = ""
) -> Response:
    return await _detail(request, token, checked_id(election_id), done=done)


async def _change(
    request: Request,
    token: str,
    election_id: str,
    method: str,
    path: str,
    *,
    done: str,
    json: Any = None,
) -> Response:
    try:
        await call(request, _service_of(path), method, path, token=token, json=json)
    except ApiError as error:
        if error.status == 401:
            raise LoginRequired from None
        return await _detail(request, token, election_id, error=error.message, status=error.status)
    return redirect(request, f"/admin/elections/{election_id}?done={done}")


def _service_of(path: str) -> str:
    for prefix, service in (
        ("/api/auth/", "auth"),
        ("/api/ballots/", "voting"),
        ("/api/results/", "results"),
    ):
        if path.startswith(prefix):
            return service
    return "election"


@router.post("/elections/{election_id}/edit")
async def edit_election(
    request: Request,
    election_id: str,
    token: Token,
    title: Annotated[str, Form(max_length=400)],
    time_zone: Annotated[str, Form(max_length=64)],
    opens_at: Annotated[str, Form(max_length=40)],
    closes_at: Annotated[str, Form(max_length=40)],
    description: Annotated[str, Form(max_length=20_000)] = "",
    second_factor: Annotated[str, Form(max_length=20)] = "none",
    allow_revoting: Annotated[str | None, Form(max_length=4)] = None,
) -> Response:
    election_id = checked_id(election_id)
    try:
        body = _election_body(
            title=title,
            description=description,
            time_zone=time_zone,
            opens_at=opens_at,
            closes_at=closes_at,
            second_factor=second_factor,
            allow_revoting=allow_revoting,
        )
    except ValueError as error:
        return await _detail(request, token, election_id, error=str(error), status=422)
    return await _change(
        request,
        token,
        election_id,
        "PATCH",
        f"/api/elections/{election_id}",
        json=body,
        done="saved",
    )


@router.post("/elections/{election_id}/delete")
async def delete_election(request: Request, election_id: str, token: Token) -> Response:
    election_id = checked_id(election_id)
    try:
        await call(request, "election", "DELETE", f"/api/elections/{election_id}", token=token)
    except ApiError as error:
        return await _detail(request, token, election_id, error=error.message, status=error.status)
    return redirect(request, "/admin?done=deleted")


@router.post("/elections/{election_id}/questions")
async def add_question(
    request: Request,
    election_id: str,
    token: Token,
    title: Annotated[str, Form(max_length=600)],
    kind: Annotated[str, Form(max_length=20)],
    options: Annotated[str, Form(max_length=100_000)],
    description: Annotated[str, Form(max_length=20_000)] = "",
    min_selections: Annotated[str, Form(max_length=4)] = "",
    max_selections: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    election_id = checked_id(election_id)
    lines = [line.strip() for line in options.replace("\r\n", "\n").split("\n")]
    body: dict[str, Any] = {
        "title": title.strip(),
        "description": description.replace("\r\n", "\n"),
        "kind": kind,
        "options": [{"title": line, "description": ""} for line in lines if line],
    }
    if kind == "k_of_n":
        try:
            body["min_selections"] = int(min_selections)
            body["max_selections"] = int(max_selections)
        except ValueError:
            return await _detail(
                request,
                token,
                election_id,
                error="For “choose k of n”, give the least and the most number of choices.",
                status=422,
            )
    return await _change(
        request,
        token,
        election_id,
        "POST",
        f"/api/elections/{election_id}/questions",
        json=body,
        done="question-added",
    )


@router.post("/elections/{election_id}/questions/{question_id}/delete")
async def delete_question(
    request: Request, election_id: str, question_id: str, token: Token
) -> Response:
    election_id = checked_id(election_id)
    question_id = checked_id(question_id)
    return await _change(
        request,
        token,
        election_id,
        "DELETE",
        f"/api/elections/{election_id}/questions/{question_id}",
        done="question-deleted",
    )


@router.post("/elections/{election_id}/voters")
async def import_voters(
    request: Request, election_id: str, token: Token, file: UploadFile
) -> Response:
    election_id = checked_id(election_id)
    settings = settings_of(request)
    content = await file.read(settings.max_upload_bytes + 1)
    if not content:
        return await _detail(request, token, election_id, error="Choose a CSV file.", status=422)
    if len(content) > settings.max_upload_bytes:
        return await _detail(
            request, token, election_id, error="The file is too large.", status=413
        )
    try:
        report = await call(
            request,
            "election",
            "POST",
            f"/api/elections/{election_id}/voters/import",
            token=token,
            content=content,
            headers={"Content-Type": "text/csv"},
        )
    except ApiError as error:
        if error.status == 401:
            raise LoginRequired from None
        return await _detail(request, token, election_id, error=error.message, status=error.status)
    return await _detail(request, token, election_id, report=report)


@router.post("/elections/{election_id}/voters/clear")
async def clear_voters(request: Request, election_id: str, token: Token) -> Response:
    election_id = checked_id(election_id)
    return await _change(
        request,
        token,
        election_id,
        "DELETE",
        f"/api/elections/{election_id}/voters",
        done="roll-cleared",
    )


@router.post("/elections/{election_id}/trustees")
async def set_trustees(request: Request, election_id: str, token: Token) -> Response:
    election_id = checked_id(election_id)
    form = await request.form()
    if form.get("mode") == "server":
        body: dict[str, Any] = {"server_trustee": True}
    else:
        chosen = [str(v) for v in form.getlist("trustee")]
        names = {str(k)[5:]: str(v) for k, v in form.items() if str(k).startswith("name-")}
        try:
            threshold = int(str(form.get("threshold") or "0"))
        except ValueError:
            threshold = 0
        body = {
            "trustees": [{"account_id": a, "name": names.get(a, "").strip()} for a in chosen],
            "threshold": threshold,
        }
    return await _change(
        request,
        token,
        election_id,
        "PUT",
        f"/api/elections/{election_id}/trustees",
        json=body,
        done="trustees",
    )


async def _roll_voter_id(request: Request, token: str, election_id: str, email: str) -> int | None:
    """The roll entry with exactly this e-mail address (the roll's id is the voter's id in
    every service: the auth service reads the same ``voters`` row)."""
    wanted = email.strip().casefold()
    found = await call(
        request,
        "election",
        "GET",
        f"/api/elections/{election_id}/voters",
        token=token,
        params={"q": wanted, "per_page": 50},
    )
    return next((int(v["id"]) for v in found["items"] if v["email"].casefold() == wanted), None)


@router.post("/elections/{election_id}/resend")
async def resend_link(
    request: Request,
    election_id: str,
    token: Token,
    email: Annotated[str, Form(min_length=3, max_length=320)],
) -> Response:
    """A new link for one voter, found by e-mail address (the auth service enforces the
    cooldown and writes the audit entry)."""
    election_id = checked_id(election_id)
    if "@" not in email or any(c.isspace() for c in email.strip()):
        return await _detail(
            request, token, election_id, error="Give the voter's e-mail address.", status=422
        )
    try:
        voter_id = await _roll_voter_id(request, token, election_id, email)
        if voter_id is None:
            return await _detail(
                request,
                token,
                election_id,
                error="No voter with that e-mail address is on the roll.",
                status=404,
            )
        path = f"/api/auth/elections/{election_id}/voters/{voter_id}/resend"
        await call(request, "auth", "POST", path, token=token)
    except ApiError as error:
        if error.status == 401:
            raise LoginRequired from None
        message = error.message
        if error.status == 429:
            message = "A link was sent to this voter a short while ago. Wait, then try again."
        return await _detail(request, token, election_id, error=message, status=error.status)
    return redirect(request, f"/admin/elections/{election_id}?done=resent#invitations")


def _details_text(details: dict[str, Any]) -> str:
    """An entry's details as one line of text (escaped by the template like any value)."""
    return "; ".join(
        f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
        for key, value in details.items()
    )


@router.get("/elections/{election_id}/audit")
async def audit_log(
    request: Request,
    election_id: str,
    token: Token,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    verify: bool = False,
) -> Response:
    """The election's audit log, 50 entries a page, newest first; with ``verify`` the
    whole chain is recomputed (it reads the entire log, so only on request)."""
    election_id = checked_id(election_id)
    election = await load_election(request, token, election_id)
    params: dict[str, Any] = {"limit": AUDIT_PAGE}
    if before is not None:
        params["before"] = before
    try:
        entries = await call(
            request,
            "election",
            "GET",
            f"/api/elections/{election_id}/audit",
            token=token,
            params=params,
        )
        chain = None
        if verify:
            chain = await call(
                request, "election", "GET", f"/api/elections/{election_id}/audit/chain", token=token
            )
    except ApiError as error:
        if error.status == 401:
            raise LoginRequired from None
        raise PageError(error.status, error.message) from None
    accounts = await optional(request, "auth", "/api/auth/accounts", token)
    # Actors are admin:<id> (election, results) or account:<id> (auth): one account.
    names = {
        f"{prefix}:{a['id']}": a["display_name"]
        for a in (accounts or {}).get("accounts", [])
        for prefix in ("admin", "account")
    }
    return page(
        request,
        "admin/audit.html",
        {
            "title": f"Audit log: {election['title']}",
            "election": election,
            "entries": [
                {**e, "details_text": _details_text(e["details"])} for e in entries["items"]
            ],
            "next_before": entries["next_before"],
            "first_page": before is None,
            "chain": chain,
            "names": names,
        },
    )


@router.post("/elections/{election_id}/{action}")
async def transition(request: Request, election_id: str, action: str, token: Token) -> Response:
    election_id = checked_id(election_id)
    paths = {
        "freeze": f"/api/elections/{election_id}/freeze",
        "open": f"/api/elections/{election_id}/open",
        "close": f"/api/elections/{election_id}/close",
        "invitations": f"/api/auth/elections/{election_id}/invitations",
        "reminders": f"/api/auth/elections/{election_id}/reminders",
        "sealed": f"/api/ballots/elections/{election_id}/board/seal",
        "tally": f"/api/results/elections/{election_id}/tally",
        "tally-restart": f"/api/results/elections/{election_id}/tally/restart",
        "publish": f"/api/results/elections/{election_id}/publish",
    }
    if action not in paths:
        raise PageError(404, "There is no such action.", title="Not found")
    return await _change(request, token, election_id, "POST", paths[action], done=action)
