"""The sample voter roll is well formed and plainly invented."""

from __future__ import annotations

import csv
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "sample-voters.csv"


def test_the_sample_roll_has_fifty_distinct_invented_voters() -> None:
    with SAMPLE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 50
    assert set(rows[0]) == {"external_id", "name", "email", "date_of_birth"}
    emails = [row["email"] for row in rows]
    assert len(set(emails)) == len(emails)
    assert all(email.endswith("@example.org") for email in emails)
    assert len({row["external_id"] for row in rows}) == 50
