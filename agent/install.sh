#!/bin/sh
# hostpulse agent installer for Linux hosts with systemd.
#
#   install.sh --ingest-url URL --token-file FILE|- [--agent-id NAME] [--source DIR|WHEEL|URL]
#   (--token TOKEN works too, but shows the token in the process list while it runs)
#   curl -fsSL https://…/install.sh | sh -s -- --ingest-url URL --token TOKEN --source URL
#   install.sh                                   # again: upgrade in place, keep the config
#   install.sh --uninstall [--purge]             # remove; --purge also removes config and data
#
# Creates an isolated environment in /opt/hostpulse-agent, /etc/hostpulse/agent.toml and
# /etc/hostpulse/token (root only), and a hardened systemd unit, then enables and starts it.
# --prefix DIR installs under DIR instead of / (for tests and image builds); --no-start skips
# systemctl. Needs Python 3.11 or newer as python3 (or --python PATH).
set -eu

PREFIX=""
SOURCE=""
INGEST_URL=""
TOKEN=""
AGENT_ID=""
PYTHON="${PYTHON:-python3}"
START=1
ACTION=install
PURGE=0

die() { echo "install.sh: error: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --ingest-url) INGEST_URL="${2:?--ingest-url needs a value}"; shift 2 ;;
        --token) TOKEN="${2:?--token needs a value}"; shift 2 ;;
        # The token from a file, or from standard input with '-': unlike --token, it never
        # shows in the process list while the installer runs.
        --token-file) TOKEN_FILE="${2:?--token-file needs a value}"; shift 2 ;;
        --agent-id) AGENT_ID="${2:?--agent-id needs a value}"; shift 2 ;;
        --source) SOURCE="${2:?--source needs a value}"; shift 2 ;;
        --prefix) PREFIX="${2:?--prefix needs a value}"; shift 2 ;;
        --python) PYTHON="${2:?--python needs a value}"; shift 2 ;;
        --no-start) START=0; shift ;;
        --uninstall) ACTION=uninstall; shift ;;
        --purge) PURGE=1; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

if [ -n "${TOKEN_FILE:-}" ]; then
    if [ "$TOKEN_FILE" = - ]; then
        IFS= read -r TOKEN || [ -n "${TOKEN:-}" ] || die "no token on standard input"
    else
        [ -r "$TOKEN_FILE" ] || die "cannot read the token file $TOKEN_FILE"
        IFS= read -r TOKEN < "$TOKEN_FILE" || [ -n "${TOKEN:-}" ] || die "$TOKEN_FILE is empty"
    fi
fi

OPT="$PREFIX/opt/hostpulse-agent"
ETC="$PREFIX/etc/hostpulse"
STATE="$PREFIX/var/lib/hostpulse-agent"
UNIT_DIR="$PREFIX/etc/systemd/system"
UNIT="$UNIT_DIR/hostpulse-agent.service"

systemd_here() {
    [ "$START" -eq 1 ] && [ -z "$PREFIX" ] && command -v systemctl >/dev/null 2>&1 \
        && [ -d /run/systemd/system ]
}

if [ "$ACTION" = uninstall ]; then
    if systemd_here; then
        systemctl disable --now hostpulse-agent.service 2>/dev/null || true
    fi
    rm -f "$UNIT"
    if systemd_here; then systemctl daemon-reload; fi
    rm -rf "$OPT"
    if [ "$PURGE" -eq 1 ]; then
        rm -rf "$ETC" "$STATE" "$PREFIX/var/lib/private/hostpulse-agent"
        say "removed the agent, its configuration and its data"
    else
        say "removed the agent; kept $ETC and $STATE (--purge removes them)"
    fi
    exit 0
fi

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null \
    || die "Python 3.11 or newer is needed as $PYTHON; install it or pass --python PATH"
if [ -z "$SOURCE" ]; then
    # Run from a checkout: the agent's own project, beside this script. Piped into sh: none.
    [ -f "$0" ] && [ -f "$(dirname "$0")/pyproject.toml" ] \
        || die "--source is needed (the agent's wheel, its path or URL, or its project folder)"
    SOURCE="$(cd "$(dirname "$0")" && pwd)"
fi
case "$SOURCE" in
    http://*|https://*) ;;
    *) [ -e "$SOURCE" ] || die "source $SOURCE does not exist" ;;
esac

if [ ! -f "$ETC/agent.toml" ] && { [ -z "$INGEST_URL" ] || [ -z "$TOKEN" ]; }; then
    die "a first install needs --ingest-url and --token"
fi
case "$INGEST_URL" in
    ""|http://*|https://*) ;;
    *) die "--ingest-url must start with http:// or https://" ;;
esac
case "$INGEST_URL$AGENT_ID$TOKEN" in
    *'"'*|*\\*|*"'"*|*' '*) die "--ingest-url, --agent-id and --token cannot hold quotes, backslashes or spaces" ;;
esac

umask 022
mkdir -p "$OPT" "$ETC" "$STATE" "$UNIT_DIR"
if [ -x "$OPT/bin/python" ]; then
    say "upgrading the agent in $OPT"
else
    say "creating $OPT"
    "$PYTHON" -m venv "$OPT"
fi
"$OPT/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$SOURCE" \
    || die "installing the agent from $SOURCE failed"

if [ -n "$TOKEN" ]; then
    (umask 077 && printf '%s\n' "$TOKEN" > "$ETC/token")
fi
if [ -n "$INGEST_URL" ] || [ ! -f "$ETC/agent.toml" ]; then
    {
        echo "# hostpulse agent; see hostpulse-agent --help. Written by install.sh."
        echo "ingest_url = \"$INGEST_URL\""
        [ -n "$AGENT_ID" ] && echo "agent_id = \"$AGENT_ID\""
        echo "state_dir = \"/var/lib/hostpulse-agent\""
        echo "interval_s = 5"
        echo "send_every_s = 10"
    } > "$ETC/agent.toml.new"
    chmod 0644 "$ETC/agent.toml.new"
    mv "$ETC/agent.toml.new" "$ETC/agent.toml"
else
    say "keeping $ETC/agent.toml"
fi

"$OPT/bin/hostpulse-agent" --config "$ETC/agent.toml" --token-file "$ETC/token" check-config \
    || die "the configuration in $ETC does not validate (see above)"

cat > "$UNIT.new" <<'UNIT'
[Unit]
Description=hostpulse host agent
Documentation=https://hostpulse.dev
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=/opt/hostpulse-agent/bin/hostpulse-agent --config /etc/hostpulse/agent.toml --token-file %d/token run
# The token reaches the service as a credential: readable by it alone, never by its user.
LoadCredential=token:/etc/hostpulse/token
DynamicUser=yes
StateDirectory=hostpulse-agent
# Seeing every process's I/O and open files needs these two, and nothing else.
AmbientCapabilities=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE
CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
Restart=on-failure
RestartSec=5
# The agent flushes for up to 10 s on SIGTERM.
TimeoutStopSec=30

[Install]
WantedBy=multi-user.target
UNIT
mv "$UNIT.new" "$UNIT"
chmod 0644 "$UNIT"

if systemd_here; then
    systemctl daemon-reload
    systemctl enable hostpulse-agent.service >/dev/null
    systemctl restart hostpulse-agent.service
    say "installed and started: systemctl status hostpulse-agent"
else
    say "installed under ${PREFIX:-/}; start it with: systemctl enable --now hostpulse-agent"
fi
