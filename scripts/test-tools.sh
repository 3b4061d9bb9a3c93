#!/bin/sh
# Tools the tests use beyond Python packages: systemd-analyze checks the agent's unit.
set -eu
if ! command -v systemd-analyze >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing systemd (for systemd-analyze) with apt-get"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
    else
        echo "systemd-analyze is missing and cannot be installed here: install the systemd package" >&2
        exit 1
    fi
fi
