#!/usr/bin/env bash
# Lint, type-check and run the whole test suite (SQLite and PostgreSQL halves),
# in parallel workers (pytest-xdist).
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
# One worker per core, at most 4 (each takes a Redis database below
# PASAR_TEST_REDIS_URL's: tests/conftest.py), each module whole on one worker.
# "-n 0" among the arguments runs everything in this process (--pdb does so too).
exec .venv/bin/pytest -n auto --maxprocesses=4 --dist loadfile "$@"
