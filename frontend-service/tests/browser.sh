#!/bin/sh
# Run the frontend's browser tests (frontend-service/tests/test_browser.py) the way CI does.
#
# The tests drive Debian's Chromium with Playwright for Python. No browser is ever
# downloaded (`playwright install` is never run): Playwright is pointed at /usr/bin/chromium
# (or $SECUREVOTE_CHROMIUM). The tests start `securevote up` on a loopback port over a
# temporary SQLite database; nothing leaves the machine.
#
#   frontend-service/tests/browser.sh            install Chromium if missing, run the tests
#   SECUREVOTE_SCREENSHOTS=DIR browser.sh         where the screenshots of key pages go
#                                                 (default var/screenshots, git-ignored)
set -eu
cd "$(dirname "$0")/../.."

if [ -z "${SECUREVOTE_CHROMIUM:-}" ] && ! [ -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update
    # Debian's package; on Ubuntu runners the deb is a snap shim, use a Debian container.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core
fi
"${SECUREVOTE_CHROMIUM:-/usr/bin/chromium}" --version

# axe-core for the accessibility test: exact version and integrity from the lock file, no
# install scripts. Test-only: it is injected by the test driver, never served by the site.
npm ci --ignore-scripts --no-audit --no-fund --prefix frontend-service/tests/axe

uv sync --frozen
exec uv run pytest frontend-service/tests/test_browser.py -p no:cacheprovider "$@"
