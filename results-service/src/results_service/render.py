"""The published result in three forms: a JSON document, CSV, and an SVG bar chart.

Winners: a question with ``max_selections = m`` has up to ``m`` winners, the options with the
most votes. If options tie for the last seat(s) the tie is stated (``tied``) and nobody among
them is declared a winner; options with no votes never win. Percentages are of the counted
ballots (``percent``) and of the votes given in that question (``vote_share``).
"""

from __future__ import annotations

import csv
import io
from html import escape
from typing import Any

from results_service.service import Published, aware


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def winners(counts: dict[str, int], seats: int) -> tuple[list[str], list[str]]:
    """(winners, tied): ``tied`` lists the options tying for the remaining seats."""
    ranked = sorted((c for c in counts.values() if c > 0), reverse=True)
    if not ranked or seats < 1:
        return [], []
    cut = ranked[min(seats, len(ranked)) - 1]
    above = [o for o, c in counts.items() if c > cut]
    at_cut = [o for o, c in counts.items() if c == cut]
    if len(above) + len(at_cut) <= seats:
        return above + at_cut, []
    return above, at_cut


def results_json(view: Published) -> dict[str, Any]:
    result = view.result
    ballots = result.ballot_count
    eligible = int(result.reconciliation.get("eligible_voters", 0))
    questions = []
    by_question = {q["question"]: q["options"] for q in result.counts["questions"]}
    for question in view.context.manifest.questions:
        counts = {o["option"]: int(o["count"]) for o in by_question[question.id]}
        votes = sum(counts.values())
        won, tied = winners(counts, question.max_selections)
        questions.append(
            {
                "question": question.id,
                "label": question.label,
                "min_selections": question.min_selections,
                "max_selections": question.max_selections,
                "votes": votes,
                "options": [
                    {
                        "option": option.id,
                        "label": option.label,
                        "count": counts[option.id],
                        "percent": _percent(counts[option.id], ballots),
                        "vote_share": _percent(counts[option.id], votes),
                        "winner": option.id in won,
                    }
                    for option in question.options
                ],
                "winners": won,
                "tie": bool(tied),
                "tied": tied,
            }
        )
    published_at = result.published_at
    return {
        "election_id": view.election.id,
        "title": view.election.title,
        "election_hash": view.election.election_hash,
        "published_at": None if published_at is None else aware(published_at).isoformat(),
        "ballots": ballots,
        "turnout": {
            "counted_ballots": ballots,
            "eligible_voters": eligible,
            "percent": _percent(ballots, eligible),
        },
        "questions": questions,
        "reconciliation": result.reconciliation,
        "decryption": {
            "threshold": view.context.threshold,
            "trustees": result.trustees,
        },
    }


def results_csv(document: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["question", "question_label", "option", "option_label", "count", "percent",
         "vote_share", "outcome"]
    )  # fmt: skip
    for question in document["questions"]:
        for option in question["options"]:
            outcome = (
                "winner"
                if option["winner"]
                else "tie"
                if option["option"] in question["tied"]
                else ""
            )
            writer.writerow(
                [
                    question["question"],
                    _csv_safe(question["label"]),
                    option["option"],
                    _csv_safe(option["label"]),
                    option["count"],
                    f"{option['percent']:.2f}",
                    f"{option['vote_share']:.2f}",
                    outcome,
                ]
            )
    turnout = document["turnout"]
    writer.writerow([])
    writer.writerow(["counted_ballots", turnout["counted_ballots"]])
    writer.writerow(["eligible_voters", turnout["eligible_voters"]])
    writer.writerow(["turnout_percent", f"{turnout['percent']:.2f}"])
    return out.getvalue()


def _csv_safe(text: str) -> str:
    """Defuse spreadsheet formulas in labels (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


BAR_WIDTH = 360
ROW = 26
LABEL_WIDTH = 220
MARGIN = 16


def results_svg(document: dict[str, Any]) -> str:
    """A horizontal bar chart per question; every text is XML-escaped."""
    parts: list[str] = []
    y = MARGIN
    width = LABEL_WIDTH + BAR_WIDTH + 140
    parts.append(
        f'<text x="{MARGIN}" y="{y + 14}" font-size="18" font-weight="bold">'
        f"{escape(str(document['title']))}</text>"
    )
    y += 30
    turnout = document["turnout"]
    parts.append(
        f'<text x="{MARGIN}" y="{y + 12}" font-size="13">'
        f"{turnout['counted_ballots']} ballots of {turnout['eligible_voters']} eligible voters "
        f"({turnout['percent']:.2f}% turnout)</text>"
    )
    y += 28
    for question in document["questions"]:
        parts.append(
            f'<text x="{MARGIN}" y="{y + 14}" font-size="15" font-weight="bold">'
            f"{escape(str(question['label']))}</text>"
        )
        y += 24
        top = max((o["count"] for o in question["options"]), default=0) or 1
        for option in question["options"]:
            length = round(BAR_WIDTH * option["count"] / top)
            colour = (
                "#2e7d32"
                if option["winner"]
                else "#f9a825"
                if option["option"] in question["tied"]
                else "#5c6bc0"
            )
            parts.append(
                f'<text x="{MARGIN}" y="{y + 15}" font-size="13">'
                f"{escape(str(option['label']))}</text>"
                f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{length}" height="{ROW - 8}" '
                f'fill="{colour}"/>'
                f'<text x="{LABEL_WIDTH + length + 6}" y="{y + 15}" font-size="13">'
                f"{option['count']} ({option['percent']:.2f}%)</text>"
            )
            y += ROW
        if question["tie"]:
            tied = ", ".join(
                o["label"] for o in question["options"] if o["option"] in question["tied"]
            )
            parts.append(
                f'<text x="{MARGIN}" y="{y + 14}" font-size="12" font-style="italic">'
                f"Tie: {escape(tied)}</text>"
            )
            y += 20
        y += 12
    height = y + MARGIN
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" role="img">'
        f"<title>{escape(str(document['title']))}: results</title>"
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>' + "".join(parts) + "</svg>"
    )
