#!/usr/bin/env bash
# Lint, type-check and run the whole test suite (end-to-end tests last), then the VS Code
# extension's tests and its package.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/pytest -q -p no:cacheprovider "$@"
# The VS Code extension: compile, its tests against the real server, and the .vsix.
(cd editor-clients/vscode && npm test --silent \
    && npx vsce package --allow-missing-repository --out "$(mktemp -d)/vetted.vsix")
