#!/usr/bin/env bash
# Deploys the kind overlay to the current kubectl context (a cluster made from
# deploy/kubernetes/overlays/kind/kind-cluster.yaml, images securevote/<service>:dev loaded).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bash "$HERE/create-secrets.sh"
bash "$HERE/../kubernetes/apply.sh" kind
