#!/usr/bin/env bash
# make load-test: the locust scenario (benchmarks/load/locustfile.py), headless, against the
# running local cluster (make cluster-up). Prepares a fresh election of VOTERS voters
# (setup_election.py, as a new owner created with `securevote admin create`), runs USERS
# simulated voters for at most DURATION, prints locust's report (requests per second, response
# time percentiles, failures), a summary table and the board's size; the summary (Markdown)
# and locust's HTML report go to LOAD_DIR.
#
#   VOTERS=200 USERS=20 DURATION=60s benchmarks/load/run.sh
#
# locust runs from an environment of its own (the `load` dependency group of uv.lock, synced
# into LOAD_DIR/venv), so gevent never enters .venv. Exit status: locust's (1 on any failure).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN=${CLUSTER_DIR:-$ROOT/var/local-cluster}
OUT=${LOAD_DIR:-$ROOT/var/load}
VOTERS=${VOTERS:-200}
USERS=${USERS:-20}
DURATION=${DURATION:-60s}
read -ra UV_COMMAND <<<"${UV:-uv}"
cd "$ROOT"

die() {
  printf 'load-test: %s\n' "$*" >&2
  exit 1
}

[[ $VOTERS =~ ^[0-9]+$ && $USERS =~ ^[1-9][0-9]*$ ]] || die "VOTERS and USERS are numbers"
[[ $DURATION =~ ^[0-9]+[smh]?$ ]] || die "DURATION is like 60s, 5m or 1h"
[[ -f $RUN/cluster.env ]] || die "no local cluster in $RUN: make cluster-up first"
set -a
# shellcheck source=/dev/null
. "$RUN/cluster.env"
set +a
curl --fail --silent --max-time 5 "$CLUSTER_URL/api/ballots/ready" >/dev/null ||
  die "the local cluster does not answer at $CLUSTER_URL: make cluster-up first"
mkdir -p "$OUT"

echo "== an owner and an election of $VOTERS voters on $CLUSTER_URL"
email="load-$(date +%Y%m%d%H%M%S)-$RANDOM@example.org"
password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$password" |
  .venv/bin/securevote admin create --organisation "Load test" --email "$email" --password-stdin
SECUREVOTE_LOAD_PASSWORD=$password .venv/bin/python benchmarks/load/setup_election.py \
  --url "$CLUSTER_URL" --owner-email "$email" --voters "$VOTERS" --out "$OUT/voters.json"

echo "== locust: $USERS users, at most $DURATION"
UV_PROJECT_ENVIRONMENT="$OUT/venv" "${UV_COMMAND[@]}" sync --frozen --only-group load --quiet
status=0
LOAD_VOTERS="$OUT/voters.json" LOAD_SUMMARY="$OUT/summary.md" "$OUT/venv/bin/locust" \
  -f benchmarks/load/locustfile.py --headless --only-summary --users "$USERS" \
  --spawn-rate "$USERS" --run-time "$DURATION" --stop-timeout 30 --html "$OUT/report.html" ||
  status=$?

election=$(.venv/bin/python -c 'import json, sys; print(json.load(open(sys.argv[1]))["election_id"])' "$OUT/voters.json")
curl --fail --silent "$CLUSTER_URL/api/ballots/elections/$election/board/ballots?after=-1&limit=1000" |
  .venv/bin/python -c 'import json, sys; print("board:", len(json.load(sys.stdin)["entries"]), "ballots")' ||
  true
echo "reports: $OUT/summary.md, $OUT/report.html"
exit "$status"
