#!/usr/bin/env bash
# Creates the Secrets the kind overlay needs, with fresh random values, in namespace
# securevote. For kind and throwaway clusters only: staging and production secrets come from
# your secret store (docs/operations.md, "Secrets"). Existing secrets are left alone, so
# re-running keeps the database passwords the PostgreSQL volume was initialised with.
# Needs kubectl and openssl.
set -euo pipefail

NAMESPACE=${NAMESPACE:-securevote}
SERVICES=(auth election voting results frontend)

random_hex() { openssl rand -hex 24; }

# The Ed25519 public key of a 32-byte seed (base64), computed by openssl from a PKCS#8 key.
ed25519_public_key() {
  {
    printf '\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20'
    printf '%s' "$1" | base64 -d
  } | openssl pkey -inform DER -pubout -outform DER | tail -c 32 | base64
}

create() { # create NAME KEY=VALUE...
  local name=$1
  shift
  if kubectl -n "$NAMESPACE" get secret "$name" >/dev/null 2>&1; then
    echo "secret/$name exists: kept"
    return 0
  fi
  local args=()
  for pair in "$@"; do args+=("--from-literal=$pair"); done
  kubectl -n "$NAMESPACE" create secret generic "$name" "${args[@]}"
}

kubectl get namespace "$NAMESPACE" >/dev/null 2>&1 || kubectl create namespace "$NAMESPACE"

declare -A password
for role in migrator backup "${SERVICES[@]}"; do password[$role]=$(random_hex); done
seed=$(openssl rand -base64 32)

create securevote-postgres \
  "POSTGRES_PASSWORD=$(random_hex)" \
  "SECUREVOTE_DB_MIGRATOR_PASSWORD=${password[migrator]}" \
  "SECUREVOTE_DB_AUTH_PASSWORD=${password[auth]}" \
  "SECUREVOTE_DB_ELECTION_PASSWORD=${password[election]}" \
  "SECUREVOTE_DB_VOTING_PASSWORD=${password[voting]}" \
  "SECUREVOTE_DB_RESULTS_PASSWORD=${password[results]}" \
  "SECUREVOTE_DB_FRONTEND_PASSWORD=${password[frontend]}" \
  "SECUREVOTE_DB_BACKUP_PASSWORD=${password[backup]}"
create securevote-app \
  "SECUREVOTE_SECRET_KEY=$(openssl rand -base64 48 | tr -d '\n')" \
  "SECUREVOTE_JWT_PUBLIC_KEYS=$(ed25519_public_key "$seed")"
create securevote-auth-signing "SECUREVOTE_JWT_SIGNING_SEED=$seed"
create securevote-board-signing \
  "SECUREVOTE_BOARD_SIGNING_SEED=$(openssl rand -base64 32 | tr -d '\n')"
for role in migrator "${SERVICES[@]}"; do
  create "securevote-db-$role" \
    "DATABASE_URL=postgresql+asyncpg://securevote_$role:${password[$role]}@postgres:5432/securevote"
done
create securevote-db-backup \
  "DATABASE_URL=postgresql+asyncpg://securevote_backup:${password[backup]}@postgres:5432/securevote" \
  PGHOST=postgres PGPORT=5432 PGDATABASE=securevote PGUSER=securevote_backup \
  "PGPASSWORD=${password[backup]}"
