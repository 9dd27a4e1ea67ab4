#!/usr/bin/env bash
# Lint, type-check and run the whole test suite (SQLite and PostgreSQL halves).
# Tests needing PostgreSQL/Redis skip with a message when those are down, unless
# PASAR_TEST_REQUIRE_SERVICES=1 (CI sets it) turns that into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
echo "==> ruff"
.venv/bin/ruff check src tests bench examples
.venv/bin/ruff format --check src tests bench examples
echo "==> mypy"
.venv/bin/mypy
echo "==> pytest"
exec .venv/bin/pytest "$@"
