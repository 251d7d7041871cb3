#!/usr/bin/env bash
# Lint, type-check and run the whole test suite (end-to-end tests last).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/pytest -q -p no:cacheprovider "$@"
