#!/usr/bin/env bash
# Installs everything Pasar needs into ./.venv. Safe to run again: it skips the
# install when pyproject.toml has not changed since the last one.
# Usage: scripts/setup.sh [dev]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
EXTRAS="${1:-}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Pasar needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
spec="."
[ "$EXTRAS" = "dev" ] && spec=".[dev]"
stamp=".venv/.pasar-installed-${EXTRAS:-base}"
digest="$(sha256sum pyproject.toml | cut -d' ' -f1)"
installed() { [ -f "$1" ] && [ "$(cat "$1")" = "$digest" ]; }
# A dev install includes everything the base one has.
if ! installed "$stamp" && ! { [ -z "$EXTRAS" ] && installed .venv/.pasar-installed-dev; }; then
  echo "==> installing Python packages ($spec)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e "$spec"
  echo "$digest" > "$stamp"
fi

# The studio and the embed (the player) are TypeScript built by Vite into
# the package's static files; any change under frontend/ (sources, package.json,
# package-lock.json, vite.config.ts) rebuilds them.
front_digest="$(find frontend -path frontend/node_modules -prune -o -type f -print0 | sort -z \
  | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
front_stamp=".venv/.pasar-frontend"
if [ ! -f src/pasar/web/static/studio/index.html ] || [ ! -f src/pasar/web/static/embed.js ] \
   || [ ! -f "$front_stamp" ] \
   || [ "$(cat "$front_stamp")" != "$front_digest" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "Node.js 20+ and npm are needed to build the studio (apt-get install nodejs npm)." >&2
    exit 1
  fi
  echo "==> building the front end"
  (cd frontend && npm ci --no-audit --no-fund --silent && npm run --silent build >/dev/null)
  echo "$front_digest" > "$front_stamp"
fi
