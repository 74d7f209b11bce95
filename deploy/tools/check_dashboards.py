"""Checks Grafana dashboards (deploy/validate.sh).

Usage: python check_dashboards.py DASHBOARD.json...

For each dashboard: valid JSON with a uid and title; unique panel ids; panels inside the
24-column grid; every panel query names only secure-vote metrics we know (exported today or
agreed in deploy/prometheus/rules/securevote.rules.yml); and every query is valid PromQL, checked
by `promtool check rules` on a generated rule file (dashboard variables replaced by `.*`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

KNOWN_METRICS = {
    "securevote_http_requests_total",
    "securevote_http_request_duration_seconds_bucket",
    "securevote_ballots_cast_total",
    "securevote_cast_batch_size_sum",
    "securevote_cast_batch_size_count",
    "securevote_tokens_issued_total",
    "securevote_token_validations_total",
    "securevote_mail_sent_total",
    "securevote_mail_outbox_pending",
}


def check(path: Path, promtool: str) -> list[str]:
    problems: list[str] = []
    dash = json.loads(path.read_text())
    for key in ("uid", "title", "panels"):
        if not dash.get(key):
            problems.append(f"{path}: missing {key}")
    ids = [p["id"] for p in dash.get("panels", [])]
    if len(ids) != len(set(ids)):
        problems.append(f"{path}: duplicate panel ids")
    exprs = []
    for p in dash.get("panels", []):
        grid = p.get("gridPos", {})
        if grid.get("x", 0) + grid.get("w", 0) > 24:
            problems.append(f"{path}: panel {p['title']!r} is wider than the grid")
        for t in p.get("targets", []):
            expr = t["expr"]
            exprs.append(expr)
            for metric in set(re.findall(r"\bsecurevote_[a-z0-9_]+", expr)):
                if metric not in KNOWN_METRICS:
                    problems.append(f"{path}: panel {p['title']!r} uses unknown metric {metric}")
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query{i}", "expr": re.sub(r"\$\w+", ".*", e)}
                    for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(rules, f)
    result = subprocess.run(  # noqa: S603 - promtool from PATH, our own file
        [promtool, "check", "rules", f.name], capture_output=True, text=True, check=False
    )
    Path(f.name).unlink()
    if result.returncode != 0:
        problems.append(f"{path}: PromQL does not parse:\n{result.stdout}{result.stderr}")
    print(f"   {path}: {len(dash.get('panels', []))} panels, {len(exprs)} queries")
    return problems


def main(paths: list[str]) -> int:
    promtool = shutil.which("promtool")
    if promtool is None:
        print("   promtool not found")
        return 1
    problems = [p for path in paths for p in check(Path(path), promtool)]
    for line in problems:
        print(f"   {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
