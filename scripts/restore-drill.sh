#!/usr/bin/env bash
# Restore drill (seed §9, DR tests; docs/runbooks/restore.md): restore a backup into a scratch
# database and prove the copy is whole.
#   1. the dump: pg_dump --format=custom of the source (the nightly CronJob's format), or the
#      dump given with --dump (the latest nightly one, say)
#   2. a fresh scratch database, and pg_restore into it
#   3. `securevote audit verify` on the copy: the audit log's hash chain is intact
#   4. the election record of every published election, rebuilt from the copy, and its stored
#      copy, the one voters download (scripts/export_records.py), each checked completely by
#      `securevote verify`
#   5. a verdict. The scratch database is dropped whatever happens.
# Exit 0 only if every check passed; 1 if one failed; 2 on bad usage.
#
# Environment
#   SECUREVOTE_DATABASE_URL (or DATABASE_URL)  the source, postgresql[+asyncpg]://…; dumped
#                              unless --dump is given
#   SECUREVOTE_DATABASE_SCHEMA the schema (default: the whole database; with --dump, the one
#                              schema holding the tables)
#   RESTORE_DRILL_SERVER       a database URL on the server where the scratch database is made
#                              (default: the source); its role needs CREATEDB
#   BOARD_PUBLIC_KEY           hex of the board's public key (GET /api/ballots/board/key of the
#                              live system), needed when the data holds a published election
# The checks see the scratch copy and nothing else of secure-vote's environment: they need no
# secret. Prefer PGPASSWORD or ~/.pgpass to a password in a URL (command lines are visible to
# local users); no URL is ever printed.
#
# Usage: scripts/restore-drill.sh [--dump FILE]        (make restore-drill [DUMP=FILE])
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
read -ra UV_COMMAND <<<"${UV:-uv}"

say() { printf 'restore drill: %s\n' "$*"; }
fail() {
  say "FAILED: $*"
  exit 1
}
usage() {
  printf '%s\n' "$*" "usage: scripts/restore-drill.sh [--dump FILE]" >&2
  exit 2
}

dump=
while (($# > 0)); do
  case $1 in
    --dump)
      (($# >= 2)) || usage "--dump needs a file"
      dump=$2
      shift 2
      ;;
    *) usage "unknown argument: $1" ;;
  esac
done

# libpq_url URL: the URL as libpq takes it (postgresql+asyncpg:// -> postgresql://).
libpq_url() {
  [[ $1 =~ ^postgres(ql)?(\+[a-z0-9_]+)?://(.*)$ ]] || return 1
  printf 'postgresql://%s' "${BASH_REMATCH[3]}"
}

# with_database URL NAME: the same server and credentials, database NAME.
with_database() {
  [[ $1 =~ ^(postgresql://[^/?]*)(/[^?]*)?(\?.*)?$ ]] || return 1
  printf '%s/%s%s' "${BASH_REMATCH[1]}" "$2" "${BASH_REMATCH[3]}"
}

source_url=${SECUREVOTE_DATABASE_URL:-${DATABASE_URL:-}}
schema=${SECUREVOTE_DATABASE_SCHEMA:-}
server_url=${RESTORE_DRILL_SERVER:-$source_url}
[[ -n $dump || -n $source_url ]] || usage "set SECUREVOTE_DATABASE_URL (the source) or give --dump"
[[ -n $server_url ]] || usage "set RESTORE_DRILL_SERVER: where to create the scratch database"
server_url=$(libpq_url "$server_url") || usage "the database must be PostgreSQL (postgresql://…)"
[[ -z $schema || $schema =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || usage "bad SECUREVOTE_DATABASE_SCHEMA"
for tool in pg_dump pg_restore psql; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (Debian: postgresql-client)"
done

work=$(mktemp -d)
scratch=
cleanup() {
  if [[ -n $scratch ]]; then
    if psql "$server_url" -X -q -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS \"$scratch\" WITH (FORCE)" >/dev/null; then
      say "scratch database $scratch dropped"
    else
      say "could not drop the scratch database $scratch: drop it by hand"
    fi
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. the dump
if [[ -z $dump ]]; then
  dump="$work/source.dump"
  source_url=$(libpq_url "$source_url") || usage "the source must be PostgreSQL (postgresql://…)"
  pg_dump --format=custom --no-owner ${schema:+--schema="$schema"} --file="$dump" \
    --dbname="$source_url" || fail "pg_dump of the source"
  say "dumped ${schema:+schema $schema of }the source ($(du -k "$dump" | cut -f1) KiB)"
fi
[[ -r $dump ]] || usage "cannot read the dump $dump"
pg_restore --list "$dump" >/dev/null || fail "the dump is not a readable custom-format archive"

# 2. a scratch database, and the restore
name="securevote_drill_$(date -u +%Y%m%d%H%M%S)_$$"
psql "$server_url" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$name\"" >/dev/null ||
  fail "could not create a scratch database (the role needs CREATEDB)"
scratch=$name
scratch_url=$(with_database "$server_url" "$scratch") || fail "cannot name the scratch database"
pg_restore --dbname="$scratch_url" --no-owner --no-privileges --single-transaction \
  --exit-on-error "$dump" || fail "pg_restore into $scratch"
mapfile -t schemas < <(psql "$scratch_url" -X -A -t -v ON_ERROR_STOP=1 \
  -c "SELECT table_schema FROM information_schema.tables WHERE table_name = 'audit_log'")
if [[ -z $schema ]]; then
  ((${#schemas[@]} == 1)) ||
    fail "${#schemas[@]} schemas hold an audit_log: set SECUREVOTE_DATABASE_SCHEMA"
  schema=${schemas[0]}
  [[ $schema =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || fail "unexpected schema name in the dump"
fi
tables=$(psql "$scratch_url" -X -A -t -v ON_ERROR_STOP=1 \
  -c "SELECT count(*) FROM information_schema.tables WHERE table_schema = '$schema'")
((tables > 0)) || fail "the restored copy has no table in schema $schema"
say "restored into scratch database $scratch ($tables tables in schema $schema)"

# 3 and 4: the checks, with the copy as their only database
securevote_env() {
  local variable clear=()
  for variable in $(compgen -e); do
    [[ $variable =~ ^(SECUREVOTE_.*|DATABASE_URL|TEST_MODE)$ ]] && clear+=(-u "$variable")
  done
  (cd "$ROOT" && env "${clear[@]}" SECUREVOTE_MODE=dev SECUREVOTE_LOG_LEVEL=WARNING \
    SECUREVOTE_DATABASE_URL="postgresql+asyncpg://${scratch_url#postgresql://}" \
    SECUREVOTE_DATABASE_SCHEMA="$schema" "${UV_COMMAND[@]}" run --frozen "$@")
}

failed=()
if output=$(securevote_env securevote audit verify 2>&1); then
  say "ok      audit log: $output"
else
  say "FAILED  audit log: $output"
  failed+=("audit log")
fi

mkdir -p "$work/records"
exported=$(securevote_env python scripts/export_records.py "$work/records" \
  ${BOARD_PUBLIC_KEY:+--board-public-key "$BOARD_PUBLIC_KEY"})
exported_status=$?
mapfile -t records < <(sed '/^$/d' <<<"$exported")
elections=$(grep -c '/election-record-[^/]*\.zip$' <<<"$exported")
if ((exported_status != 0)); then
  say "FAILED  record export (above)"
  failed+=("record export")
fi
say "$elections published election(s) in the copy; ${#records[@]} record(s), rebuilt and stored"
for record in "${records[@]}"; do
  label="record $(basename "$record" .zip)"
  if output=$(securevote_env securevote verify "$record" 2>&1); then
    say "ok      $label: $(tail -n 1 <<<"$output")"
  else
    printf '%s\n' "$output" | grep -E '^(FAIL|RECORD)' | sed 's/^/        /'
    say "FAILED  $label"
    failed+=("$label")
  fi
done

# 5. the verdict
if ((${#failed[@]} > 0)); then
  fail "$(IFS=,; printf '%s' "${failed[*]}" | sed 's/,/, /g')"
fi
say "PASSED (audit log intact; ${#records[@]} record(s) of $elections election(s) verify)"
