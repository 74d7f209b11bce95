"""Redaction: secrets and ballot content can never reach a log line."""

from __future__ import annotations

import json

import pytest

from securevote.logging import REDACTED, configure_logging, get_logger, redact

JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ2b3RlciJ9.c2lnbmF0dXJlLWJ5dGVz"


def test_sensitive_fields_are_redacted_at_any_depth() -> None:
    event = {
        "token": "abc",
        "user": {"Password": "hunter2", "name": "Ada"},
        "ballot": {"q1": [1, 0]},
        "items": [{"voting_token": "x"}, {"ok": 1}],
        "election_id": "e1",
    }
    assert redact(event) == {
        "token": REDACTED,
        "user": {"Password": REDACTED, "name": "Ada"},
        "ballot": REDACTED,
        "items": [{"voting_token": REDACTED}, {"ok": 1}],
        "election_id": "e1",
    }


def test_bearer_tokens_inside_text_are_masked() -> None:
    assert redact(f"header was Bearer {JWT} and more") == f"header was Bearer {REDACTED} and more"


@pytest.mark.parametrize(
    "field",
    [
        "token",
        "password",
        "secret_key",
        "authorization",
        "cookie",
        "ciphertext",
        "selections",
        "voter_credential",
        "totp_code",
        "randomness",
    ],
)
def test_every_sensitive_name_is_redacted_in_real_output(
    field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO")
    get_logger("test").info("something_happened", **{field: "s3cr3t-value"}, election="e1")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line[field] == REDACTED
    assert line["election"] == "e1"
    assert "s3cr3t-value" not in json.dumps(line)


def test_standard_library_loggers_are_redacted_too(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    configure_logging("INFO")
    logging.getLogger("third.party").warning("got %s", JWT)
    out = capsys.readouterr().out
    assert JWT not in out
    assert json.loads(out.strip().splitlines()[-1])["level"] == "warning"


def test_an_exception_is_logged_by_type_and_stack_never_by_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    configure_logging("INFO")
    message = "bad token " + "-".join(["plain", "secret"])
    try:
        raise ValueError(message)
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    out = capsys.readouterr().out
    line = json.loads(out.strip().splitlines()[-1])
    assert line["error_type"] == "builtins.ValueError"
    assert "test_an_exception_is_logged" in line["stack"]
    assert "plain-secret" not in out
    assert line["event"] == "Exception in ASGI application"
