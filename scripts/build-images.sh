#!/bin/sh
# `make images`: hostpulse's server and agent images (images/*.Containerfile), built with podman.
#
# Their base is Debian 12 by its dated tag. Where no registry answers, the same release is built
# from Debian's archive with debootstrap (root only) and used instead; the image says which in
# its org.opencontainers.image.base.name label.
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
UV=${UV:-.venv/bin/uv}
BASE=${HOSTPULSE_IMAGE_BASE:-docker.io/library/debian:bookworm-20250520-slim}
LOCAL_BASE=localhost/hostpulse-base:bookworm
MIRROR=${HOSTPULSE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
STATE=.hostpulse/images
CONTAINERS_CONF=$(pwd)/images/containers.conf
export CONTAINERS_CONF

for tool in podman buildah; do
    command -v "$tool" >/dev/null 2>&1 || { echo "make images needs $tool (Debian: apt-get install podman buildah runc)" >&2; exit 1; }
done

build_base_from_archive() {
    command -v debootstrap >/dev/null 2>&1 || { echo "no registry and no debootstrap: apt-get install debootstrap" >&2; exit 1; }
    [ "$(id -u)" -eq 0 ] || { echo "no registry: building the base from Debian's archive needs root" >&2; exit 1; }
    rootfs=$STATE/rootfs
    rm -rf "$rootfs"
    echo "no registry answered for $BASE: building Debian 12 from $MIRROR"
    debootstrap --variant=minbase --include=python3,ca-certificates bookworm "$rootfs" "$MIRROR" \
        > "$STATE/debootstrap.log" 2>&1 || { tail -20 "$STATE/debootstrap.log" >&2; exit 1; }
    cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $MIRROR-security bookworm-security main
SOURCES
    # Slim as Debian's -slim images: no package caches, documentation, manuals or locales.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
        "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log
    tar -C "$rootfs" --numeric-owner -c . | podman import --quiet \
        --change 'CMD ["/bin/bash"]' \
        --change "LABEL org.opencontainers.image.description=Debian 12 (bookworm) minbase from $MIRROR" \
        - "$LOCAL_BASE" >/dev/null
    rm -rf "$rootfs"
}

mkdir -p "$STATE"
if ! podman image exists "$BASE" && ! podman pull --quiet "$BASE" >/dev/null 2>&1; then
    podman image exists "$LOCAL_BASE" || build_base_from_archive
    BASE=$LOCAL_BASE
fi

context=$STATE/context
rm -rf "$context"
mkdir -p "$context/wheels"
"$UV" build --quiet --wheel --out-dir "$context/wheels" .
"$UV" build --quiet --wheel --out-dir "$context/wheels" agent
# The pinned wheels are fetched here, by the host's own index and certificates (a proxy's CA
# included), for the image's platform and Python (Debian 12's 3.11.2); the build installs them
# with no network.
arch=$(uname -m)
for lock in server agent; do
    "$PYTHON" -m pip download --quiet --quiet --disable-pip-version-check --no-deps --require-hashes \
        --only-binary :all: --python-version 3.11.2 --implementation cp \
        --platform "manylinux_2_36_$arch" --platform "manylinux_2_28_$arch" \
        --platform "manylinux_2_17_$arch" --platform "manylinux2014_$arch" \
        --platform "manylinux_2_12_$arch" --platform "manylinux2010_$arch" \
        --platform "manylinux_2_5_$arch" --platform "manylinux1_$arch" \
        -r "images/$lock.lock" -d "$context/wheels"
done
cp images/server.lock images/agent.lock "$context/"
cp stack/stack.yaml "$context/"
cp -R frontend "$context/frontend"

server_version=$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
agent_version=$("$PYTHON" -c 'import re; print(re.search(r"__version__ = \"(.+)\"", open("agent/hostpulse_agent/__init__.py").read())[1])')
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

build() {  # name version
    podman build --quiet --format docker --network host --layers \
        --build-arg "BASE=$BASE" --build-arg "VERSION=$2" --build-arg "REVISION=$revision" \
        -f "images/$1.Containerfile" -t "localhost/hostpulse-$1:$2" "$context" >/dev/null
    echo "localhost/hostpulse-$1:$2 $(podman image inspect --format '{{.Size}}' "localhost/hostpulse-$1:$2" | awk '{printf "%.0f MB", $1 / 1e6}') (base $BASE)"
}
build server "$server_version"
build agent "$agent_version"
