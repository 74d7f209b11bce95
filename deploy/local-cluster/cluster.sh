#!/usr/bin/env bash
# The local cluster: secure-vote distributed as in production, as real processes on this
# machine. Two replicas of each service (`securevote serve`), one process per background job
# (`securevote jobs run NAME --loop`), on a PostgreSQL database of their own, behind nginx
# (Debian's package, run by this script as an ordinary process with its own configuration,
# pid file and logs) that routes the Ingress's prefixes to upstreams of two replicas each.
#
#   deploy/local-cluster/cluster.sh up       migrate, start everything, wait until ready
#   deploy/local-cluster/cluster.sh status   every process, alive or not, and its /ready
#   deploy/local-cluster/cluster.sh down [--drop-database]
#
# Settings (environment):
#   CLUSTER_PORT       the gateway (default 18080). The rest lies in the 60 ports above it:
#                      service S (1 auth, 2 election, 3 voting, 4 results, 5 frontend) has its
#                      in-cluster address (nginx, as a Kubernetes Service) at PORT+S and its
#                      replicas at PORT+10*S+1 and PORT+10*S+2.
#   CLUSTER_DIR        run folder: configuration, pid files, logs (default var/local-cluster)
#   CLUSTER_DATABASE   the cluster's own PostgreSQL database (default securevote_cluster),
#                      on the server PGHOST/PGPORT/PGUSER/PGPASSWORD name (default
#                      postgres@127.0.0.1:5432)
#   CLUSTER_REDIS_URL  shared voter rate limits (default redis://127.0.0.1:6379/0; empty: each
#                      auth replica keeps its own in memory)
#   CLUSTER_POOL_SIZE  database connections per process (default 3, as many again in overflow:
#                      15 processes x 6 = 90 at most, under PostgreSQL's default 100)
#   SECUREVOTE_MODE    dev (default: built-in secrets) or test; never for a real election
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/deploy/local-cluster"
PORT=${CLUSTER_PORT:-18080}
RUN=${CLUSTER_DIR:-$ROOT/var/local-cluster}
DATABASE=${CLUSTER_DATABASE:-securevote_cluster}
REDIS=${CLUSTER_REDIS_URL-redis://127.0.0.1:6379/0}
POOL=${CLUSTER_POOL_SIZE:-3}
MODE=${SECUREVOTE_MODE:-dev}
SECUREVOTE=$ROOT/.venv/bin/securevote
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}

SERVICES=(auth election voting results frontend)
JOBS=(election-scheduler invitations mail board-heads results-tally)
REPLICAS=(1 2)

die() {
  printf 'cluster: %s\n' "$*" >&2
  exit 1
}

[[ $PORT =~ ^[0-9]{4,5}$ && $PORT -ge 1024 && $PORT -le 65000 ]] || die "CLUSTER_PORT must be 1024-65000"
[[ $DATABASE =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "CLUSTER_DATABASE must match [a-z_][a-z0-9_]*"
[[ $POOL =~ ^[1-9][0-9]*$ ]] || die "CLUSTER_POOL_SIZE must be a positive integer"

service_port() { echo $((PORT + $1)); }          # $1: 1-based service number
replica_port() { echo $((PORT + 10 * $1 + $2)); } # $2: replica 1 or 2

database_url() {
  local password=${PGPASSWORD:+:$PGPASSWORD}
  echo "postgresql+asyncpg://$PGUSER$password@$PGHOST:$PGPORT/$DATABASE"
}

# The environment of every secure-vote process of the cluster, one VAR=value a line.
cluster_environment() {
  local urls="" i
  for i in "${!SERVICES[@]}"; do
    urls+="${urls:+,}${SERVICES[$i]}=http://127.0.0.1:$(service_port $((i + 1)))"
  done
  cat <<EOF
SECUREVOTE_MODE=$MODE
SECUREVOTE_DATABASE_URL=$(database_url)
SECUREVOTE_DATABASE_POOL_SIZE=$POOL
SECUREVOTE_VERIFY_PROCESSES=1
SECUREVOTE_SERVICE_URLS=$urls
SECUREVOTE_PUBLIC_URL=http://127.0.0.1:$PORT
SECUREVOTE_VOTER_COOKIE_SECURE=false
SECUREVOTE_TRUSTED_PROXIES=127.0.0.1
SECUREVOTE_LOG_LEVEL=${SECUREVOTE_LOG_LEVEL:-INFO}
CLUSTER_URL=http://127.0.0.1:$PORT
EOF
  [[ -z $REDIS ]] || echo "REDIS_URL=$REDIS"
}

# alive PID: the process exists, is no zombie and is one of ours (securevote or nginx), so a
# stale pid file never gets an unrelated process signalled.
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $state != Z* ]] && grep -qaE 'securevote|nginx' "/proc/$1/cmdline" 2>/dev/null
}

running_pids() {
  local file pid
  for file in "$RUN"/pids/*.pid; do
    [[ -f $file ]] || continue
    pid=$(<"$file")
    alive "$pid" && printf '%s\n' "$pid"
  done
  return 0
}

# start NAME COMMAND...: a process of its own session, logging to logs/NAME.log.
start() {
  local name=$1
  shift
  setsid "$@" >"$RUN/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/pids/$name.pid"
}

wait_ready() {
  local name=$1 url=$2 deadline=$((SECONDS + 90)) pid
  pid=$(<"$RUN/pids/$name.pid")
  until curl --fail --silent --max-time 2 "$url" >/dev/null; do
    if ! alive "$pid" || ((SECONDS > deadline)); then
      printf 'cluster: %s did not become ready (%s); the end of its log:\n' "$name" "$url" >&2
      tail -n 30 "$RUN/logs/$name.log" >&2
      return 1
    fi
    sleep 0.5
  done
}

write_nginx_conf() {
  local conf="$RUN/nginx/nginx.conf" i r
  {
    cat <<EOF
# Written by deploy/local-cluster/cluster.sh on every start; edit that script instead.
worker_processes 1;
pid $RUN/nginx/nginx.pid;
error_log $RUN/logs/nginx-error.log warn;
events { worker_connections 1024; }
http {
  log_format cluster '\$time_iso8601 msec=\$msec \$request_method \$uri \$status '
                     'upstream=\$upstream_addr upstream_status=\$upstream_status \${request_time}s';
  access_log $RUN/logs/nginx-access.log cluster;
  client_body_temp_path $RUN/nginx/tmp/body;
  proxy_temp_path $RUN/nginx/tmp/proxy;
  fastcgi_temp_path $RUN/nginx/tmp/fastcgi;
  uwsgi_temp_path $RUN/nginx/tmp/uwsgi;
  scgi_temp_path $RUN/nginx/tmp/scgi;
  client_max_body_size 1m;     # SECUREVOTE_MAX_REQUEST_BYTES, the Ingress's proxy-body-size
  client_body_buffer_size 1m;  # request bodies stay in memory …
  proxy_max_temp_file_size 0;  # … and so do responses: no temporary files
  proxy_connect_timeout 2s;
  proxy_set_header Host \$host;
  proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Proto \$scheme;
  proxy_set_header X-Request-ID \$request_id;
  # A refused connection (a dead replica) goes to the other replica; a request already sent
  # to a replica that then dies is not sent again for POST (nginx's default): the client
  # retries with its Idempotency-Key.
EOF
    for i in "${!SERVICES[@]}"; do
      printf '  upstream %s {\n' "${SERVICES[$i]}"
      for r in "${REPLICAS[@]}"; do
        printf '    server 127.0.0.1:%s max_fails=1 fail_timeout=10s;\n' "$(replica_port $((i + 1)) "$r")"
      done
      printf '  }\n'
    done
    printf '  # The Ingress.\n'
    printf '  server {\n    listen 127.0.0.1:%s;\n    include %s/gateway.conf;\n  }\n' "$PORT" "$HERE"
    printf '  # In-cluster addresses, one per service (Kubernetes Services): SECUREVOTE_SERVICE_URLS.\n'
    for i in "${!SERVICES[@]}"; do
      printf '  server { listen 127.0.0.1:%s; location / { proxy_pass http://%s; } }\n' \
        "$(service_port $((i + 1)))" "${SERVICES[$i]}"
    done
    printf '}\n'
  } >"$conf"
}

preflight() {
  [[ -x $SECUREVOTE ]] || die "no $SECUREVOTE: run make install first"
  [[ -x $NGINX ]] || die "nginx is missing: apt-get install nginx (make test-deps does)"
  command -v psql >/dev/null 2>&1 || die "psql is missing (Debian: postgresql-client)"
  pg_isready -q || die "PostgreSQL is not reachable at $PGHOST:$PGPORT"
  [[ -z $(running_pids) ]] || die "already running in $RUN (cluster.sh down first)"
}

up() {
  mkdir -p "$RUN/logs" "$RUN/pids" "$RUN/nginx/tmp"
  rm -f "$RUN"/pids/*.pid
  cluster_environment >"$RUN/cluster.env"
  set -a
  # shellcheck source=/dev/null
  . "$RUN/cluster.env"
  set +a

  if [[ -z $(psql -d postgres -XAtc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'") ]]; then
    createdb "$DATABASE"
  fi
  "$SECUREVOTE" migrate >"$RUN/logs/migrate.log" 2>&1 || {
    tail -n 30 "$RUN/logs/migrate.log" >&2
    die "securevote migrate failed"
  }

  local i r job name
  for i in "${!SERVICES[@]}"; do
    for r in "${REPLICAS[@]}"; do
      start "${SERVICES[$i]}-$r" "$SECUREVOTE" serve "${SERVICES[$i]}" \
        --host 127.0.0.1 --port "$(replica_port $((i + 1)) "$r")"
    done
  done
  for job in "${JOBS[@]}"; do
    start "job-$job" "$SECUREVOTE" jobs run "$job" --loop
  done
  write_nginx_conf
  start nginx "$NGINX" -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e "$RUN/logs/nginx-error.log" \
    -g 'daemon off;'

  for i in "${!SERVICES[@]}"; do
    for r in "${REPLICAS[@]}"; do
      name="${SERVICES[$i]}-$r"
      wait_ready "$name" "http://127.0.0.1:$(replica_port $((i + 1)) "$r")/ready" || return 1
    done
  done
  wait_ready nginx "$CLUSTER_URL/ready" || return 1
  for name in api/auth api/elections api/ballots api/results; do
    curl --fail --silent --max-time 5 "$CLUSTER_URL/$name/ready" >/dev/null ||
      die "the gateway does not reach /$name/ready"
  done
  for job in "${JOBS[@]}"; do
    alive "$(<"$RUN/pids/job-$job.pid")" || die "job $job stopped: see $RUN/logs/job-$job.log"
  done
  echo "local cluster up: $CLUSTER_URL (database $DATABASE, run folder $RUN)"
  status
}

status() {
  local file name pid state port
  printf '%-26s %-8s %-7s %s\n' process pid state address
  for file in "$RUN"/pids/*.pid; do
    [[ -f $file ]] || continue
    name=$(basename "$file" .pid)
    pid=$(<"$file")
    state=dead
    alive "$pid" && state=running
    port=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -oE -- '--port [0-9]+' | cut -d' ' -f2 || true)
    [[ $name == nginx ]] && port=$PORT
    printf '%-26s %-8s %-7s %s\n' "$name" "$pid" "$state" "${port:+http://127.0.0.1:$port}"
  done
  [[ -n $(running_pids) ]]
}

down() {
  local pids pid nginx="" deadline=$((SECONDS + 20))
  mapfile -t pids < <(running_pids)
  [[ -f $RUN/pids/nginx.pid ]] && nginx=$(<"$RUN/pids/nginx.pid")
  for pid in "${pids[@]}"; do
    if [[ $pid == "$nginx" ]]; then
      kill -QUIT "$pid" 2>/dev/null || true # graceful: finish the requests in flight
    else
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${pids[@]}"; do
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
  done
  rm -f "$RUN"/pids/*.pid
  echo "local cluster stopped (${#pids[@]} processes)"
  if [[ ${1:-} == --drop-database ]]; then
    dropdb --if-exists --force "$DATABASE"
    echo "database $DATABASE dropped"
  fi
}

case ${1:-} in
  up)
    preflight
    trap 'echo "cluster: start failed; stopping what started" >&2; down >&2' EXIT
    up
    trap - EXIT
    ;;
  down) down "${2:-}" ;;
  status) status ;;
  *) die "usage: cluster.sh up | status | down [--drop-database]" ;;
esac
