#!/usr/bin/env bash
# Exercises database/init.sql on a real PostgreSQL (deploy/validate.sh runs it when one answers
# on $PGHOST:$PGPORT, default 127.0.0.1:5432, as $PGUSER, default postgres, a superuser):
#   1. init.sql in a scratch database, with passwords from the environment as in production;
#   2. `securevote migrate` as securevote_migrator into schema securevote;
#   3. every table has exactly the grants init.sql's table_writers promise;
#   4. a service role can append to the audit log (the chain verifies) and cannot write another
#      service's table, delete audit entries or create tables.
# Roles are cluster-wide: if securevote_* roles already exist (a real deployment), it touches
# nothing and says so. It always drops the scratch database and the roles it created.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
DB=securevote_initsql_check_$$
ROLES=(migrator auth election voting results frontend backup app)
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

if [[ -n "$("${PSQL[@]}" -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname LIKE 'securevote\_%'")" ]]; then
  echo "   securevote_* roles already exist on $PGHOST:$PGPORT: not touching them (check skipped)"
  exit 0
fi

cleanup() {
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
  for role in "${ROLES[@]}"; do
    "${PSQL[@]}" -d postgres -c "DROP ROLE IF EXISTS securevote_$role" >/dev/null 2>&1
  done
}
trap cleanup EXIT

declare -A password
for role in MIGRATOR AUTH ELECTION VOTING RESULTS FRONTEND BACKUP; do
  password[$role]=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  export "SECUREVOTE_DB_${role}_PASSWORD=${password[$role]}"
done
url() { printf 'postgresql+asyncpg://securevote_%s:%s@%s:%s/%s' "$1" "${password[${1^^}]}" "$PGHOST" "$PGPORT" "$DB"; }

fail() {
  echo "   FAIL: $*"
  exit 1
}

"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB" || fail "cannot create a scratch database"
"${PSQL[@]}" -d "$DB" -f "$ROOT/database/init.sql" || fail "init.sql"
echo "   init.sql applied"

export SECUREVOTE_MIGRATIONS_DIR="$ROOT/database/migrations" SECUREVOTE_DATABASE_SCHEMA=securevote
run() { (cd "$ROOT" && uv run --frozen --quiet "$@"); }
DATABASE_URL=$(url migrator) run securevote migrate >/dev/null || fail "securevote migrate as securevote_migrator"
echo "   migrations applied as securevote_migrator"

# Every writer grant promised in table_writers exists, and no service role holds more.
problems=$("${PSQL[@]}" -d "$DB" -tA <<'SQL'
WITH expected AS (
    SELECT w.table_name, w.role_name::text AS grantee, trim(p) AS privilege
    FROM securevote_admin.table_writers AS w, unnest(string_to_array(w.privileges, ',')) AS p
    WHERE EXISTS (SELECT 1 FROM information_schema.tables AS t
                  WHERE t.table_schema = 'securevote' AND t.table_name = w.table_name)
), actual AS (
    SELECT table_name, grantee, privilege_type AS privilege
    FROM information_schema.role_table_grants
    WHERE table_schema = 'securevote' AND grantee LIKE 'securevote\_%'
      AND grantee NOT IN ('securevote_migrator', 'securevote_app')
)
SELECT 'missing ' || privilege || ' on ' || table_name || ' for ' || grantee FROM (
    SELECT * FROM expected EXCEPT SELECT * FROM actual) AS m
UNION ALL
SELECT 'unexpected ' || privilege || ' on ' || table_name || ' for ' || grantee FROM (
    SELECT * FROM actual EXCEPT SELECT * FROM expected) AS u
UNION ALL
SELECT 'table ' || table_name || ' has no writer in table_writers'
FROM information_schema.tables
WHERE table_schema = 'securevote' AND table_name <> 'alembic_version'
  AND table_name NOT IN (SELECT table_name FROM securevote_admin.table_writers);
SQL
)
if [[ -n "$problems" ]]; then
  printf '   %s\n' "$problems"
  fail "grants differ from securevote_admin.table_writers"
fi
echo "   grants match securevote_admin.table_writers ($("${PSQL[@]}" -d "$DB" -tAc \
  "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'securevote'") tables)"

as_auth=(psql -X -q -d "postgresql://securevote_auth:${password[AUTH]}@$PGHOST:$PGPORT/$DB")
for statement in "INSERT INTO elections DEFAULT VALUES" "DELETE FROM audit_log" \
  "CREATE TABLE not_allowed (i int)" "TRUNCATE audit_log"; do
  if "${as_auth[@]}" -c "$statement" >/dev/null 2>&1; then
    fail "securevote_auth was allowed to: $statement"
  fi
done
echo "   securevote_auth cannot write elections, delete or truncate audit_log, or create tables"

# The voting role casts with its own grants: the cast function and the election's share lock
# (a row lock needs UPDATE on elections, which only ballot_box_lock_election's owner has).
as_voting=(psql -X -q -tA -d "postgresql://securevote_voting:${password[VOTING]}@$PGHOST:$PGPORT/$DB")
outcome=$("${as_voting[@]}" -c "SELECT outcomes[1] FROM ballot_box_cast_many('none', 'h', \
  ARRAY['c'], ARRAY['\\x00'::bytea], ARRAY['\\x00'::bytea], ARRAY['{}'], ARRAY['k'], 0)" 2>&1) \
  || fail "ballot_box_cast_many as securevote_voting: $outcome"
[[ "$outcome" == not_found ]] || fail "ballot_box_cast_many as securevote_voting answered: $outcome"
if "${as_voting[@]}" -c "SELECT 1 FROM elections FOR SHARE" >/dev/null 2>&1; then
  fail "securevote_voting may lock elections rows directly"
fi
echo "   securevote_voting casts through ballot_box_cast_many (election locked by its definer function)"

DATABASE_URL=$(url auth) SECUREVOTE_MODE=dev run python - <<'PY' || fail "audit append as securevote_auth"
import asyncio

from securevote import audit
from securevote.config import load_settings
from securevote.db import Database


async def main() -> None:
    database = Database(load_settings())
    async with database.session() as session:
        await audit.record(session, service="auth", actor="check-init-sql", action="grants.check")
    async with database.session() as session:
        report = await audit.verify_chain(session)
    await database.dispose()
    assert report.entries == 1 and report.first_broken_id is None, report


asyncio.run(main())
PY
echo "   securevote_auth appended to the audit log and the chain verifies"
