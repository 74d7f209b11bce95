#!/usr/bin/env bash
# Deploys one overlay in the order a release needs (seed §4.4): the platform objects and the
# database first, then the migration Job (waited for), then the services and jobs, then waits
# for every rollout. Usage: deploy/kubernetes/apply.sh kind|staging|production|production-canary
# Needs kubectl (with its built-in kustomize) pointed at the target cluster.
set -euo pipefail

OVERLAY=${1:?usage: apply.sh OVERLAY}
NAMESPACE=securevote
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT

kubectl kustomize --load-restrictor LoadRestrictionsNone "$ROOT/deploy/kubernetes/overlays/$OVERLAY" >"$rendered"

echo "== platform objects (namespace, config, policies, ingress, database)"
kubectl apply -f "$rendered" -l 'app.kubernetes.io/component notin (api,web,job,backup,migration)'
if kubectl -n "$NAMESPACE" get statefulset postgres >/dev/null 2>&1; then
  kubectl -n "$NAMESPACE" rollout status statefulset/postgres --timeout=300s
fi

echo "== migration"
kubectl -n "$NAMESPACE" delete job securevote-migrate --ignore-not-found --wait=true
kubectl apply -f "$rendered" -l app.kubernetes.io/component=migration
if ! kubectl -n "$NAMESPACE" wait job/securevote-migrate --for=condition=complete --timeout=900s; then
  kubectl -n "$NAMESPACE" logs job/securevote-migrate --all-containers || true
  echo "migration failed: the running services are untouched" >&2
  exit 1
fi

echo "== services and jobs"
kubectl apply -f "$rendered" -l 'app.kubernetes.io/component in (api,web,job,backup)'
for deployment in auth election voting results frontend; do
  kubectl -n "$NAMESPACE" rollout status "deployment/$deployment" --timeout=600s
done
echo "== $OVERLAY deployed"
