#!/usr/bin/env bash
# Installs everything the tests need and runs them: lint, unit, page (AppTest) and browser tests.
# The README's test command and .ci/run both call this script.
set -euo pipefail
cd "$(dirname "$0")/.."

# Browser tests drive Debian's chromium (never a downloaded browser build); a CJK font makes
# the screenshots readable. Debian's nginx fronts the several-replica tests
# (scripts/serve_class.sh runs it from a temporary directory; its system service is not used).
if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/sbin/nginx ] || ! fc-list 2>/dev/null | grep -qi wqy; } && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei nginx >/dev/null
fi
python -m pip install -q -r requirements-dev.txt
python -m ruff check .
python -m pytest "$@"
