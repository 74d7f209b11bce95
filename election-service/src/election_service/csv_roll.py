"""Parse a voter roll CSV into checked rows and a row-level report. Pure: no database.

Accepted: UTF-8 with or without a byte order mark, else Windows-1252/Latin-1; comma,
semicolon or tab as delimiter (chosen by which one makes a header with an ``email`` column);
a header row; columns ``email`` (required), ``name``, ``external_id``, ``date_of_birth``.
Errors name a line, a column and a reason, never the value (it is personal data).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from securevote.roll_secret import normalise_date_of_birth

DELIMITERS = (",", ";", "\t")
COLUMNS = ("email", "name", "external_id", "date_of_birth")
_ALIASES = {
    "e_mail": "email",
    "mail": "email",
    "email_address": "email",
    "externalid": "external_id",
    "dob": "date_of_birth",
    "birth_date": "date_of_birth",
    "birthdate": "date_of_birth",
    "dateofbirth": "date_of_birth",
}
MAX_EMAIL = 254
MAX_NAME = 200
MAX_EXTERNAL_ID = 100
# Pragmatic: one @, no spaces or control characters, a dotted domain. Deliverability is the
# mail outbox's business; this only catches what is certainly not an address.
_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f.][^@\s\x00-\x1f\x7f]*\.[^@\s\x00-\x1f\x7f.]{2,}$"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    reason: str


@dataclass(frozen=True)
class RollRow:
    line: int
    email: str
    email_key: str
    name: str | None
    external_id: str | None
    date_of_birth: str | None  # normalised ISO date; hashed before it is stored


@dataclass
class ParsedRoll:
    encoding: str
    delimiter: str
    columns: list[str]
    ignored_columns: list[str]
    rows: list[RollRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    data_rows: int = 0


class RollFileError(ValueError):
    """The file as a whole cannot be read (no header, no email column, not text)."""


def email_key(email: str) -> str:
    """The duplicate key: NFC, case-folded, NFC again (case folding can denormalise)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", email).casefold())


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was read with."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _header_key(name: str) -> str:
    key = re.sub(r"[\s\-]+", "_", name.strip().strip("\ufeff").lower())
    return _ALIASES.get(key, key)


def _pick_delimiter(first_line: str) -> tuple[str, list[str]]:
    best: tuple[str, list[str]] | None = None
    for delimiter in DELIMITERS:
        header = next(csv.reader([first_line], delimiter=delimiter), [])
        keys = [_header_key(cell) for cell in header]
        if "email" in keys and (best is None or len(keys) > len(best[1])):
            best = (delimiter, keys)
    if best is None:
        raise RollFileError("The first line must be a header with an 'email' column.")
    return best


def parse_roll(data: bytes, *, today: date, require_date_of_birth: bool = False) -> ParsedRoll:
    """Every data row checked; duplicates within the file reported against the first line."""
    try:
        text, encoding = decode(data)
    except UnicodeDecodeError as exc:
        raise RollFileError("The file has a UTF-8 byte order mark but is not UTF-8.") from exc
    if "\x00" in text:
        raise RollFileError("The file is not text (it contains NUL characters).")
    first_line = text.lstrip("\r\n").split("\n", 1)[0].rstrip("\r")
    if not first_line.strip():
        raise RollFileError("The file is empty.")
    delimiter, header = _pick_delimiter(first_line)
    duplicated = sorted({key for key in header if header.count(key) > 1 and key})
    if duplicated:
        raise RollFileError("The header names a column twice: " + ", ".join(duplicated) + ".")
    ignored = [key for key in header if key not in COLUMNS]
    report = ParsedRoll(
        encoding=encoding,
        delimiter=delimiter,
        columns=[key for key in header if key in COLUMNS],
        ignored_columns=ignored,
    )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    seen: dict[str, int] = {}
    previous_end = 0
    header_done = False
    for record in reader:
        line = previous_end + 1
        previous_end = reader.line_num
        if not header_done:
            if any(cell.strip() for cell in record):
                header_done = True
            continue
        if not any(cell.strip() for cell in record):
            continue  # blank lines are not rows
        report.data_rows += 1
        row = _check_row(record, header, line, today, require_date_of_birth, report.errors)
        if row is None:
            continue
        first = seen.get(row.email_key)
        if first is not None:
            report.errors.append(
                RowError(line, "email", f"duplicate email (first on line {first})")
            )
            continue
        seen[row.email_key] = line
        report.rows.append(row)
    return report


def _check_row(
    record: list[str],
    header: list[str],
    line: int,
    today: date,
    require_date_of_birth: bool,
    errors: list[RowError],
) -> RollRow | None:
    if len(record) != len(header):
        errors.append(RowError(line, None, f"expected {len(header)} fields, found {len(record)}"))
        return None
    values = {key: cell.strip() for key, cell in zip(header, record, strict=True)}
    before = len(errors)
    email = unicodedata.normalize("NFC", values.get("email", ""))
    if not email:
        errors.append(RowError(line, "email", "email is required"))
    elif len(email) > MAX_EMAIL or not _EMAIL.match(email) or ".." in email:
        errors.append(RowError(line, "email", "not a valid email address"))
    name = _optional_text(values.get("name"), "name", MAX_NAME, line, errors)
    external_id = _optional_text(
        values.get("external_id"), "external_id", MAX_EXTERNAL_ID, line, errors
    )
    dob: str | None = None
    raw_dob = values.get("date_of_birth", "")
    if raw_dob:
        try:
            dob = normalise_date_of_birth(raw_dob, today=today)
        except ValueError as exc:
            errors.append(RowError(line, "date_of_birth", f"date_of_birth {exc}"))
    elif require_date_of_birth:
        errors.append(RowError(line, "date_of_birth", "date_of_birth is required by this election"))
    if len(errors) > before:
        return None
    return RollRow(line, email, email_key(email), name, external_id, dob)


def _optional_text(
    value: str | None, column: str, limit: int, line: int, errors: list[RowError]
) -> str | None:
    if not value:
        return None
    value = unicodedata.normalize("NFC", value)
    if len(value) > limit:
        errors.append(RowError(line, column, f"{column} is longer than {limit} characters"))
        return None
    if _CONTROL.search(value):
        errors.append(RowError(line, column, f"{column} contains control characters"))
        return None
    return value
