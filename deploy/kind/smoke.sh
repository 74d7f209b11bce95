#!/usr/bin/env bash
# End-to-end checks on a deployed kind overlay: every service answers /ready through its
# Service, the API prefixes answer their own /ready, and the audit chain verifies in a Job made
# from the audit-export CronJob. (The full election flow joins when the voting flow lands.)
set -euo pipefail
NAMESPACE=securevote
PORT=18080
declare -A prefix=([auth]=/api/auth [election]=/api/elections [voting]=/api/ballots [results]=/api/results [frontend]="")

for service in auth election voting results frontend; do
  kubectl -n "$NAMESPACE" port-forward "service/$service" "$PORT:80" >/dev/null 2>&1 &
  forward=$!
  ready=""
  for _ in $(seq 1 30); do
    if curl --fail --silent "http://127.0.0.1:$PORT/ready" >/dev/null; then ready=yes; break; fi
    sleep 1
  done
  status=$(curl --silent --output /dev/null --write-out '%{http_code}' "http://127.0.0.1:$PORT${prefix[$service]}/ready" || true)
  kill "$forward" 2>/dev/null || true
  wait "$forward" 2>/dev/null || true
  if [[ -z "$ready" || "$status" != 200 ]]; then
    echo "FAIL $service: /ready ${ready:-no answer}, ${prefix[$service]}/ready $status" >&2
    exit 1
  fi
  echo "ok   $service ready"
done

job=smoke-audit-$(date +%s)
kubectl -n "$NAMESPACE" create job "$job" --from=cronjob/securevote-audit-export
kubectl -n "$NAMESPACE" wait "job/$job" --for=condition=complete --timeout=300s
kubectl -n "$NAMESPACE" logs "job/$job"
kubectl -n "$NAMESPACE" delete job "$job" --wait=false
echo "smoke checks passed"
