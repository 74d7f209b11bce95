#!/usr/bin/env bash
# Word and PDF versions of the documentation (seed §11), generated from the Markdown:
#   OUT/word/product-report.docx   what secure-vote is: README, architecture, protocol, frontend,
#                                  browser cryptography, the HTTP APIs
#   OUT/word/platform-report.docx  how it is built, shipped and run: operations guide,
#                                  contributing, migration policy, seed coverage
#   OUT/pdf/<runbook>.pdf          every runbook in docs/runbooks/ (the index included)
# OUT is docs/ by default. The files are build products (git-ignored): `make docs-office` makes
# them, tests/test_docs_office.py builds them into a temporary folder and checks them.
#
# Tools, from Debian only: pandoc (Markdown -> .docx, and -> HTML for the PDFs) and chromium,
# which prints the HTML headless (the browser the tests already use; SECUREVOTE_CHROMIUM
# overrides its path). `make test-deps` installs both.
#
# Usage: scripts/docs-office.sh [OUT]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(mkdir -p "${1:-$ROOT/docs}" && cd "${1:-$ROOT/docs}" && pwd)
CHROMIUM=${SECUREVOTE_CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}

PRODUCT=(README.md docs/architecture.md docs/protocol.md docs/frontend.md docs/browser-crypto.md
  docs/api-auth.md docs/api-elections.md docs/api-ballots.md docs/api-results.md)
PLATFORM=(docs/operations.md CONTRIBUTING.md docs/runbooks/migrations.md docs/seed-coverage.md)

for tool in pandoc "$CHROMIUM"; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "docs-office: $tool is missing: apt-get install pandoc chromium (make test-deps does)" >&2
    exit 1
  }
done

cd "$ROOT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$OUT/word" "$OUT/pdf"
rm -f "$OUT/word/"*.docx "$OUT/pdf/"*.pdf # nothing stale from a renamed or removed document

# report NAME TITLE FILE...: one .docx with a title and a table of contents; each document's own
# first heading starts its chapter.
report() {
  local name=$1 title=$2
  shift 2
  pandoc --from gfm --to docx --toc --toc-depth 2 --resource-path "$ROOT:$ROOT/docs" \
    --metadata title="$title" --metadata subtitle="generated from the repository's Markdown" \
    --output "$OUT/word/$name.docx" "$@"
  printf '  %s\n' "${OUT#"$ROOT"/}/word/$name.docx"
}

echo "docs-office: Word reports"
report product-report "secure-vote — Product report" "${PRODUCT[@]}"
report platform-report "secure-vote — Platform report" "${PLATFORM[@]}"

# Each runbook becomes a standalone HTML page (pandoc's default style) that Chromium prints; its
# first heading is the page title, hence the PDF's title. Paper cannot scroll: long code lines
# wrap instead. Two at a time: Chromium starts in ~1 s.
echo "docs-office: runbook PDFs"
cat >"$work/print.html" <<'EOF'
<style>
  @page { margin: 16mm 14mm; }
  pre, pre code, pre > code.sourceCode {
    white-space: pre-wrap !important;
    overflow-wrap: anywhere;
  }
  div.sourceCode { overflow: visible !important; }
</style>
EOF
print_pdf() {
  local markdown=$1 name html title
  name=$(basename "$markdown" .md)
  html="$work/$name.html"
  title=$(sed -n 's/^# //p' "$markdown" | head -n 1 | tr -d '`')
  pandoc --from gfm --to html5 --standalone --metadata pagetitle="${title:-$name}" \
    --include-in-header "$work/print.html" --output "$html" "$markdown"
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --no-default-browser-check \
    --user-data-dir="$work/profile-$name" --no-pdf-header-footer \
    --print-to-pdf="$OUT/pdf/$name.pdf" "file://$html" >"$work/$name.log" 2>&1 || {
    cat "$work/$name.log" >&2
    return 1
  }
  [[ -s "$OUT/pdf/$name.pdf" ]] || {
    echo "docs-office: chromium wrote no $name.pdf" >&2
    return 1
  }
  printf '  %s\n' "${OUT#"$ROOT"/}/pdf/$name.pdf"
}
export -f print_pdf
export OUT ROOT CHROMIUM work
# shellcheck disable=SC2016 # $1 is expanded by the inner bash, one runbook per call
printf '%s\0' docs/runbooks/*.md | xargs -0 -n 1 -P 2 bash -c 'print_pdf "$1"' _
echo "docs-office: done"
