"""Tally, decryption shares, publication, results and the election record.

Everything about counts is hidden (404, for every caller, admins included) until an
administrator publishes. The tally and the state changes of the election go through the
election service's API with the caller's own token (never a transaction held open across it).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Path, Request
from fastapi.responses import Response, StreamingResponse

from results_service import jobs, service
from results_service.record_store import StoredRecord, record_bytes, record_for
from results_service.render import results_csv, results_json, results_svg
from results_service.schemas import (
    AggregateOut,
    PublishOut,
    RejectedShareOut,
    ShareOutcomeOut,
    SharesIn,
    TallyOut,
)
from securevote.clients import service_client
from securevote.db import Database
from securevote.deps import CurrentAdmin
from securevote.errors import Problem
from securevote.logging import get_logger

log = get_logger(__name__)
router = APIRouter(prefix="/api/results/elections/{election_id}", tags=["results"])
ElectionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,36}$")]
# A published record never changes: any cache may keep it for good.
RECORD_CACHE_CONTROL = "public, max-age=31536000, immutable"


def _problem(error: service.ResultsError) -> Problem:
    return Problem(error.status, error.detail, code=error.code, **error.extensions)


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def _tally_out(
    view: service.TallyView | None,
    trustees: list[int],
    threshold: int,
    decrypted: bool,
    published: bool,
) -> TallyOut:
    return TallyOut(
        status="not_started" if view is None else view.status,
        processed=0 if view is None else view.processed,
        total=0 if view is None else view.total,
        percent=0.0
        if view is None
        else (100.0 if view.total == 0 else round(100.0 * view.processed / view.total, 1)),
        board_size=None if view is None else view.board_size,
        board_root=None if view is None else view.board_root,
        started_at=None if view is None else view.started_at,
        finished_at=None if view is None else view.finished_at,
        failure=None if view is None else view.failure,
        failed_at=None if view is None else view.failed_at,
        threshold=threshold,
        shares_from=trustees,
        decrypted=decrypted,
        published=published,
    )


async def _election_transition(
    request: Request, election_id: str, name: str, *, wanted: tuple[str, ...]
) -> None:
    """Ask the election service to move the election (``tally``/``publish``) as the caller.
    A refusal because it already moved on is fine; anything else is a 502."""
    headers = {"Authorization": request.headers.get("authorization", "")}
    async with service_client(request.app, "election") as client:
        response = await client.post(f"/api/elections/{election_id}/{name}", headers=headers)
        if response.is_success:
            return
        current = await client.get(f"/api/elections/{election_id}", headers=headers)
    state = current.json().get("state") if current.is_success else None
    if state in wanted:
        return
    log.warning(
        "election_transition_failed",
        election_id=election_id,
        step=name,
        status=response.status_code,
    )
    raise Problem(
        502 if response.status_code >= 500 or response.status_code == 404 else 409,
        f"The election service refused '{name}' ({response.status_code}).",
        code="election_transition_failed",
    )


async def _finish_tally(request: Request, election_id: str) -> None:
    """After the response: aggregate every batch, mark the election tallied, and in demo mode
    let the server trustee post its share. A tally that fails stops in the ``failed`` state
    (shown by GET); other errors are logged and the job picks the rest up."""
    database = _database(request)
    try:
        if await service.run_tally(database, election_id=election_id) != "done":
            return
        await _election_transition(request, election_id, "tally", wanted=("tallied", "published"))
        await jobs.finish_server_trustee(database, request.app.state.settings, election_id)
    except Exception as exc:
        log.error("tally_background_failed", election_id=election_id, exc_info=exc)


@router.post("/tally", response_model=TallyOut, status_code=202)
async def start_tally(
    election_id: ElectionId,
    request: Request,
    admin: CurrentAdmin,
    background: BackgroundTasks,
) -> TallyOut:
    """Start the tally of a closed election whose board is sealed (idempotent). The counted
    ballots are aggregated in batches; follow the progress with GET."""
    database = _database(request)
    try:
        view, created = await service.start_tally(
            database, election_id=election_id, principal=admin
        )
    except service.ResultsError as error:
        raise _problem(error) from None
    if view.status == "running" or created:
        background.add_task(_finish_tally, request, election_id)
    return _tally_out(view, [], 0, False, False)


@router.post("/tally/restart", response_model=TallyOut, status_code=202)
async def restart_tally(
    election_id: ElectionId,
    request: Request,
    admin: CurrentAdmin,
    background: BackgroundTasks,
) -> TallyOut:
    """Start a ``failed`` tally over, once its cause is fixed (owner/admin; every check of the
    start again, then the aggregate from zero). A tally that is not failed is left alone."""
    try:
        view, restarted = await service.restart_tally(
            _database(request), election_id=election_id, principal=admin
        )
    except service.ResultsError as error:
        raise _problem(error) from None
    if restarted:
        background.add_task(_finish_tally, request, election_id)
    return _tally_out(view, [], 0, False, False)


@router.get("/tally", response_model=TallyOut)
async def tally_progress(
    election_id: ElectionId, request: Request, admin: CurrentAdmin
) -> TallyOut:
    """Progress (``processed``/``total`` counted ballots; ``failure`` if it stopped), and which
    trustees have posted."""
    try:
        return _tally_out(
            *await service.tally_view(_database(request), election_id=election_id, principal=admin)
        )
    except service.ResultsError as error:
        raise _problem(error) from None


@router.get("/aggregate", response_model=AggregateOut)
async def aggregate(election_id: ElectionId, request: Request, admin: CurrentAdmin) -> AggregateOut:
    """The encrypted tally that trustees decrypt (``tally/aggregate.json`` form)."""
    try:
        view = await service.aggregate_view(
            _database(request), election_id=election_id, principal=admin
        )
    except service.ResultsError as error:
        raise _problem(error) from None
    return AggregateOut(
        election_id=election_id,
        election_hash=view.election_hash,
        threshold=view.threshold,
        ballots=view.ballots,
        aggregate=view.aggregate,
    )


@router.post("/shares", response_model=ShareOutcomeOut, status_code=201)
async def post_shares(
    election_id: ElectionId, body: SharesIn, request: Request, trustee: CurrentAdmin
) -> ShareOutcomeOut:
    """A trustee's decryption shares with proofs, one per option in manifest order. A set
    with any share that does not verify is refused (422) and the refusal recorded."""
    database = _database(request)
    try:
        outcome = await service.submit_shares(
            database,
            election_id=election_id,
            principal=trustee,
            trustee=body.trustee,
            document=[share.model_dump() for share in body.shares],
        )
    except service.ShareRefused as refusal:
        await service.record_refusal(
            database, election_id=election_id, principal=trustee, refusal=refusal
        )
        raise _problem(refusal) from None
    except service.ResultsError as error:
        raise _problem(error) from None
    return ShareOutcomeOut(
        trustee=outcome.trustee,
        shares_from=outcome.received,
        threshold=outcome.threshold,
        decrypted=outcome.decrypted,
    )


@router.get("/shares/rejected", response_model=list[RejectedShareOut])
async def rejected(
    election_id: ElectionId, request: Request, admin: CurrentAdmin
) -> list[RejectedShareOut]:
    """Refused share submissions (which trustee, why, when; never the values)."""
    try:
        rows = await service.rejected_shares(
            _database(request), election_id=election_id, principal=admin
        )
    except service.ResultsError as error:
        raise _problem(error) from None
    return [
        RejectedShareOut(
            trustee=row.trustee_index,
            reason=row.reason,
            submitted_by=row.submitted_by,
            submitted_at=service.aware(row.submitted_at),
        )
        for row in rows
    ]


@router.post("/publish", response_model=PublishOut)
async def publish(
    election_id: ElectionId, request: Request, admin: CurrentAdmin, background: BackgroundTasks
) -> PublishOut:
    """Publish the decrypted result (owner/admin): the election moves to ``published`` through
    the election service, and results and record become public; the record is then built
    and stored once (after the response). Idempotent."""
    database = _database(request)
    try:
        state, already = await service.publication_check(
            database, election_id=election_id, principal=admin
        )
    except service.ResultsError as error:
        raise _problem(error) from None
    if state == "closed":
        await _election_transition(request, election_id, "tally", wanted=("tallied", "published"))
        state = "tallied"
    if state == "tallied":
        await _election_transition(request, election_id, "publish", wanted=("published",))
    elif state != "published":
        raise Problem(409, f"The election is {state}.", code="not_publishable")
    published_now = await service.mark_published(database, election_id=election_id, principal=admin)
    view = await service.published(database, election_id=election_id)
    assert view.result.published_at is not None
    if published_now:
        background.add_task(_build_record, request, view)
    return PublishOut(
        election_id=election_id,
        published_at=service.aware(view.result.published_at),
        already_published=already or not published_now,
    )


async def _published(
    request: Request, election_id: str, *, from_replica: bool = False
) -> service.Published:
    try:
        return await service.published(
            _database(request), election_id=election_id, from_replica=from_replica
        )
    except service.ResultsError as error:
        raise _problem(error) from None


@router.get("/results")
async def results(election_id: ElectionId, request: Request) -> dict[str, Any]:
    """The published result: counts, percentages, winners (ties stated), turnout and the
    reconciliation of ballots. 404 until published."""
    return results_json(await _published(request, election_id, from_replica=True))


@router.get("/results.csv", response_class=Response)
async def results_as_csv(election_id: ElectionId, request: Request) -> Response:
    document = results_json(await _published(request, election_id, from_replica=True))
    return Response(
        results_csv(document),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="results-{election_id}.csv"'},
    )


@router.get("/results.svg", response_class=Response)
async def results_as_svg(election_id: ElectionId, request: Request) -> Response:
    document = results_json(await _published(request, election_id, from_replica=True))
    return Response(
        results_svg(document),
        media_type="image/svg+xml",
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )


async def _board_public_key(request: Request) -> bytes:
    async with service_client(request.app, "voting") as client:
        response = await client.get("/api/ballots/board/key")
    if not response.is_success:
        raise Problem(502, "The board key is not available.", code="board_key_unavailable")
    return bytes.fromhex(str(response.json()["public_key"]))


async def _stored_record(request: Request, view: service.Published) -> StoredRecord:
    async def board_public_key() -> bytes:
        return await _board_public_key(request)

    return await record_for(_database(request), view=view, board_public_key=board_public_key)


async def _build_record(request: Request, view: service.Published) -> None:
    """After publication: build and store the record, so downloads never wait for it. If this
    fails (logged), the first download builds it."""
    try:
        await _stored_record(request, view)
    except Exception as exc:
        log.error("record_build_failed", election_id=view.election.id, exc_info=exc)


def _etag_matches(header: str, etag: str) -> bool:
    return any(tag.strip() in (etag, f"W/{etag}", "*") for tag in header.split(","))


@router.get("/record", response_class=StreamingResponse)
async def record(election_id: ElectionId, request: Request) -> Response:
    """The complete election record (zip) that ``securevote verify`` checks; 404 until the
    results are published. Built once and stored: every download is the same bytes, under a
    strong ETag (their SHA-256) and cached for good (it never changes). Read from the primary,
    never the replica: the first download may be the one that stores it."""
    view = await _published(request, election_id)
    stored = await _stored_record(request, view)
    headers = {"ETag": stored.etag, "Cache-Control": RECORD_CACHE_CONTROL}
    if _etag_matches(request.headers.get("if-none-match", ""), stored.etag):
        return Response(status_code=304, headers=headers)
    headers.update(
        {
            "Content-Length": str(stored.size),
            "Content-Disposition": f'attachment; filename="election-record-{election_id}.zip"',
        }
    )
    return StreamingResponse(
        record_bytes(_database(request), stored), media_type="application/zip", headers=headers
    )
