#!/usr/bin/env bash
# One command from a fresh clone to a running demo: installs, seeds, serves.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/pasar demo "$@"
