#!/usr/bin/env bash
# Lint, type-check and run the whole test suite (end-to-end tests last), then the VS Code
# extension's tests, its package and its browser suite.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/pytest -q -p no:cacheprovider "$@"
# The VS Code extension: compile, its tests against the real server, and the .vsix.
(cd editor-clients/vscode && npm test --silent \
    && npx vsce package --allow-missing-repository --out "$(mktemp -d)/vetted.vsix")
# The extension in a real VS Code (code-server) in headless Chromium, every scenario;
# VETTED_SKIP_BROWSER_SUITE=1 leaves it out where scripts/setup.sh --dev could not set it up.
if [ "${VETTED_SKIP_BROWSER_SUITE:-}" != 1 ]; then
    bash editor-clients/vscode/e2e/run.sh
fi
