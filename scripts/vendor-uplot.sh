#!/bin/sh
# Refreshes the dashboard's vendored chart library from the npm package (the dashboard needs
# no build step, so the files are committed). Usage: sh scripts/vendor-uplot.sh [version]
set -eu
version="${1:-1.6.32}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$version" >/dev/null && tar xzf "uplot-$version.tgz")
target="$(dirname "$0")/../frontend/vendor/uplot"
mkdir -p "$target"
cp "$work/package/dist/uPlot.esm.js" "$work/package/dist/uPlot.min.css" \
    "$work/package/LICENSE" "$target/"
echo "$version" >"$target/VERSION"
echo "uPlot $version vendored into frontend/vendor/uplot"
