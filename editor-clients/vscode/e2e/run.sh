#!/usr/bin/env bash
# The browser suite: build the .vsix, start code-server with it in a fresh profile, run the
# scenarios in headless Chromium, print where the screenshots are.
#   bash editor-clients/vscode/e2e/run.sh                  every scenario
#   bash editor-clients/vscode/e2e/run.sh ghost-text ...   the scenario files named
# Needs e2e/setup.sh once (scripts/setup.sh --dev runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -e e2e/tools/node_modules/.vetted-installed ]; then
    echo "the browser suite is not set up: bash editor-clients/vscode/e2e/setup.sh" >&2
    exit 1
fi
rm -rf e2e/out
mkdir -p e2e/out/run
npx tsc -p . && npx tsc -p e2e
npx vsce package --allow-missing-repository --out e2e/out/run/vetted.vsix >/dev/null
status=0
VETTED_VSIX=$PWD/e2e/out/run/vetted.vsix VETTED_E2E_ROOT=$PWD/e2e/out/run \
    npx vitest run --config e2e/vitest.config.mts "$@" || status=$?
echo "screenshots:"
ls -1 "$PWD"/e2e/out/*.png 2>/dev/null | sed 's/^/  /' || echo "  (none)"
echo "logs (code-server, and each scenario's server.log): $PWD/e2e/out/run"
exit $status
