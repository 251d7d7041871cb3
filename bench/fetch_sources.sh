#!/usr/bin/env bash
# Fetch the pinned sources that bench/fim_languages.py cuts its holes from.
#
# Usage: bash bench/fetch_sources.sh [DEST]   (default /tmp/vetted-lang-src)
#
# npm packages come through `npm pack`, Debian packages through `apt-get download` and
# `dpkg-deb -x` (nothing is installed). Each lands in DEST/<language>/<package>-<version>/;
# DEST/MANIFEST.tsv lists language, source, package, version and the file count.
set -euo pipefail

DEST=${1:-/tmp/vetted-lang-src}
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
WORK=$(mktemp -d)
chmod 755 "$WORK"  # apt-get download runs as _apt, which must write here
trap 'rm -rf "$WORK"' EXIT

NPM=(
  # language   package          version  sources inside the tarball
  "typescript  rxjs             7.8.1    package/src"
  "javascript  lodash-es        4.17.21  package"
  "java        cordova-android  12.0.1   package/framework/src"
)
DEBIAN=(
  # language  package (Debian 12 bookworm)  version                          sources inside
  "go    golang-github-spf13-cobra-dev  1.6.1-1                          usr/share/gocode/src"
  "go    golang-github-pkg-errors-dev   0.9.1-2                          usr/share/gocode/src"
  "rust  librust-semver-dev             1.0.14-1                         usr/share/cargo/registry"
  "rust  librust-anyhow-dev             1.0.69-1                         usr/share/cargo/registry"
  "c     libstb-dev                     0.0~git20220908.8b5f1f3+ds-1     usr/include/stb"
  "cpp   googletest                     1.12.1-0.2                       usr/src/googletest/googletest/src"
  "cpp   libfmt-dev                     9.1.0+ds1-2                      usr/include/fmt"
)

: > "$DEST/MANIFEST.tsv"
note() {  # language source package version dir
  local count
  count=$(find "$5" -type f | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$count" >> "$DEST/MANIFEST.tsv"
  printf '%-11s %-7s %-31s %-32s %5s files\n' "$1" "$2" "$3" "$4" "$count"
}

for row in "${NPM[@]}"; do
  read -r language package version inside <<< "$row"
  target="$DEST/$language/$package-$version"
  if [ ! -d "$target" ]; then
    (cd "$WORK" && npm pack --silent "$package@$version" > /dev/null)
    mkdir -p "$WORK/$package" && tar xzf "$WORK/$package-$version.tgz" -C "$WORK/$package"
    mkdir -p "$(dirname "$target")" && mv "$WORK/$package/$inside" "$target"
  fi
  note "$language" npm "$package" "$version" "$target"
done

for row in "${DEBIAN[@]}"; do
  read -r language package version inside <<< "$row"
  target="$DEST/$language/$package-$version"
  if [ ! -d "$target" ]; then
    (cd "$WORK" && apt-get download -q=2 "$package=$version")
    mkdir -p "$WORK/$package" && dpkg-deb -x "$WORK/${package}_"*.deb "$WORK/$package"
    mkdir -p "$(dirname "$target")" && mv "$WORK/$package/$inside" "$target"
  fi
  note "$language" debian "$package" "$version" "$target"
done
echo "sources in $DEST (manifest: $DEST/MANIFEST.tsv)"
