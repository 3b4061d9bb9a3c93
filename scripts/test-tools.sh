#!/bin/sh
# Tools the tests use beyond Python packages: systemd-analyze checks the agent's unit, Debian's
# Chromium runs the dashboard's browser tests (Playwright's own download is not used), and
# podman, buildah, runc and debootstrap build the images and run the Kubernetes workloads as pods;
# Prometheus (with promtool) is the oracle the PromQL answers are checked against, and with
# node_exporter the real sender of remote write; Alertmanager receives the alerts of an
# alertmanager notifier.
set -eu
missing=""
command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
for tool in podman buildah runc debootstrap; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing="$missing $tool"
done
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
command -v prometheus-node-exporter >/dev/null 2>&1 || missing="$missing prometheus-node-exporter"
command -v prometheus-alertmanager >/dev/null 2>&1 || missing="$missing prometheus-alertmanager"
case "$missing" in *podman*) missing="$missing catatonit" ;; esac
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing$missing with apt-get"
    apt-get update -qq
    # shellcheck disable=SC2086  # the list is meant to split
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "missing:$missing; install these packages (they need root)" >&2
    exit 1
fi
