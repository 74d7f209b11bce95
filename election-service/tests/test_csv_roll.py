"""The roll CSV parser on its own: encodings, delimiters, row-level errors, duplicates."""

from __future__ import annotations

from datetime import date

import pytest

from election_service.csv_roll import RollFileError, email_key, parse_roll

TODAY = date(2026, 11, 26)


def _errors(data: bytes, **kwargs: bool) -> list[tuple[int, str | None, str]]:
    parsed = parse_roll(data, today=TODAY, **kwargs)
    return [(e.line, e.column, e.reason) for e in parsed.errors]


def test_latin1_file_with_semicolons() -> None:
    data = "E-Mail;Name;External ID\nzoe@example.ch;Zoë Müller;7\nrene@example.ch;René Ça;8\n"
    parsed = parse_roll(data.encode("latin-1"), today=TODAY)
    assert parsed.delimiter == ";"
    assert parsed.encoding in ("windows-1252", "latin-1")
    assert [row.name for row in parsed.rows] == ["Zoë Müller", "René Ça"]
    assert parsed.columns == ["email", "name", "external_id"]
    assert parsed.errors == []


def test_utf8_with_bom_and_tabs_and_crlf() -> None:
    data = "\ufeffemail\tname\r\nanna@example.org\tÅsa Øberg\r\n"
    parsed = parse_roll(data.encode("utf-8"), today=TODAY)
    assert (parsed.encoding, parsed.delimiter) == ("utf-8-sig", "\t")
    assert parsed.rows[0].email == "anna@example.org"
    assert parsed.rows[0].name == "Åsa Øberg"


def test_utf8_without_bom_and_quoted_fields() -> None:
    data = (
        'email,name\n"a@example.org","Doe, Jane"\n"b@example.org","multi\nline"\nc@example.org,x\n'
    )
    parsed = parse_roll(data.encode(), today=TODAY)
    assert parsed.encoding == "utf-8"
    assert [row.line for row in parsed.rows] == [2, 5]  # a record may span lines
    assert parsed.rows[0].name == "Doe, Jane"
    assert [(e.line, e.column) for e in parsed.errors] == [(3, "name")]  # no newline in names


def test_bad_rows_are_reported_by_line_column_and_reason_and_good_rows_kept() -> None:
    data = (
        "email,name,date_of_birth,notes\n"
        "good@example.org,Good,1980-02-29,x\n"
        ",Nobody,,\n"
        "not-an-email,Bad,,\n"
        "two..dots@example..org,Bad,,\n"
        "old@example.org,Old,1850-01-01,\n"
        "feb@example.org,Feb,1981-02-29,\n"
        "future@example.org,F,2030-01-01,\n"
        "us@example.org,US,02/03/1990,\n"
        "short@example.org\n"
        "\n"
        f"long@example.org,{'n' * 201},,\n"
        "dots@example.org,Dots,29.02.1980,\n"
    )
    parsed = parse_roll(data.encode(), today=TODAY)
    assert [row.email for row in parsed.rows] == ["good@example.org", "dots@example.org"]
    assert parsed.rows[0].date_of_birth == parsed.rows[1].date_of_birth == "1980-02-29"
    assert parsed.ignored_columns == ["notes"]
    assert parsed.data_rows == 11
    assert [(e.line, e.column) for e in parsed.errors] == [
        (3, "email"),
        (4, "email"),
        (5, "email"),
        (6, "date_of_birth"),
        (7, "date_of_birth"),
        (8, "date_of_birth"),
        (9, "date_of_birth"),
        (10, None),
        (12, "name"),
    ]
    # Reasons never quote the value (personal data).
    for error in parsed.errors:
        assert "not-an-email" not in error.reason and "1850" not in error.reason


def test_duplicates_by_case_insensitive_nfc_email_name_the_first_line() -> None:
    composed = "jos\u00e9@example.org"
    decomposed = "JOSE\u0301@EXAMPLE.ORG"
    data = f"email\n{composed}\nother@example.org\n{decomposed}\nOther@Example.org\n"
    errors = _errors(data.encode())
    assert errors == [
        (4, "email", "duplicate email (first on line 2)"),
        (5, "email", "duplicate email (first on line 3)"),
    ]
    assert email_key(composed) == email_key(decomposed)


def test_date_of_birth_required_when_it_is_the_second_factor() -> None:
    data = b"email,date_of_birth\na@example.org,1990-01-01\nb@example.org,\n"
    assert _errors(data, require_date_of_birth=True) == [
        (3, "date_of_birth", "date_of_birth is required by this election")
    ]


@pytest.mark.parametrize(
    "data",
    [b"", b"\n\n", b"name,external_id\nx,y\n", b"email,email\na@b.cd,a@b.cd\n", b"email\x00\n"],
)
def test_unreadable_files_are_refused_whole(data: bytes) -> None:
    with pytest.raises(RollFileError):
        parse_roll(data, today=TODAY)
