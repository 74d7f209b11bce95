"""The voter roll: CSV import, paged search, removal (draft only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.datastructures import UploadFile

from election_service import roll
from election_service.access import election_for_read
from election_service.api.deps import (
    ElectionEditor,
    ElectionId,
    RollReader,
    SessionDep,
    SettingsDep,
    actor,
    org,
)
from election_service.api.views import voter_out
from election_service.schemas import ImportReport, RemovedVoters, RowErrorOut, VoterPage
from securevote.errors import Problem

router = APIRouter(prefix="/api/elections/{election_id:uuid}/voters", tags=["voter roll"])
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")
_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The CSV file: as the body (text/csv), or as the form field `file` "
        "of a multipart/form-data upload.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


async def _csv_bytes(request: Request) -> bytes:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in CSV_TYPES:
        return await request.body()
    if media_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise Problem(422, "The multipart upload needs a file in the field 'file'.")
            return await upload.read()
    raise Problem(
        415,
        "Send the roll as text/csv, or as multipart/form-data with the field 'file'.",
        title="Unsupported Media Type",
    )


@router.post("/import", openapi_extra=_IMPORT_BODY)
async def import_voters(
    election_id: ElectionId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    editor: ElectionEditor,
) -> ImportReport:
    """Add the file's valid rows to the roll and report the others by line."""
    data = await _csv_bytes(request)
    result = await roll.import_roll(
        session,
        organisation_id=org(editor),
        election_id=str(election_id),
        actor=actor(editor),
        data=data,
        server_secret=settings.secret_key_bytes,
        now=datetime.now(UTC),
    )
    shown = result.errors[: roll.MAX_REPORTED_ERRORS]
    return ImportReport(
        encoding=result.parsed.encoding,
        delimiter=result.parsed.delimiter,
        columns=result.parsed.columns,
        ignored_columns=result.parsed.ignored_columns,
        rows=result.parsed.data_rows,
        imported=result.imported,
        rejected=result.rejected,
        errors=[RowErrorOut(line=e.line, column=e.column, reason=e.reason) for e in shown],
        errors_truncated=len(result.errors) > len(shown),
    )


@router.get("")
async def list_voters(
    election_id: ElectionId,
    session: SessionDep,
    reader: RollReader,
    q: Annotated[str | None, Query(max_length=100, description="search text")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> VoterPage:
    await election_for_read(session, organisation_id=org(reader), election_id=str(election_id))
    items, total = await roll.list_voters(
        session,
        election_id=str(election_id),
        search=q.strip() if q else None,
        page=page,
        per_page=per_page,
    )
    return VoterPage(total=total, page=page, per_page=per_page, items=[voter_out(v) for v in items])


@router.delete("/{voter_id:int}", status_code=204)
async def remove_voter(
    election_id: ElectionId,
    voter_id: Annotated[int, Path(ge=1, le=2**62)],
    session: SessionDep,
    editor: ElectionEditor,
) -> None:
    await roll.remove_voter(
        session,
        organisation_id=org(editor),
        election_id=str(election_id),
        voter_id=voter_id,
        actor=actor(editor),
        now=datetime.now(UTC),
    )


@router.delete("")
async def clear_roll(
    election_id: ElectionId, session: SessionDep, editor: ElectionEditor
) -> RemovedVoters:
    removed = await roll.clear_roll(
        session,
        organisation_id=org(editor),
        election_id=str(election_id),
        actor=actor(editor),
        now=datetime.now(UTC),
    )
    return RemovedVoters(removed=removed)
