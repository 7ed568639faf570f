#!/usr/bin/env bash
# Install what the test suite needs on Debian/Ubuntu: the real STUN server (coturn),
# a real authoritative DNS server (knot), nftables/conntrack/iproute2 for the NAT lab,
# iperf3/socat for benchmarks, a JDK for the hook_bind test, headless chromium (and a CJK
# font for its screenshots) for the status page test, miniupnpd (nftables build) for the
# home-router UPnP/NAT-PMP/PCP tests, then the pip packages.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(coturn knot knot-dnsutils nftables conntrack iproute2 iperf3 socat dnsutils
          default-jdk-headless gcc make libc6-dev python3-venv
          chromium fonts-wqy-zenhei miniupnpd-nftables)
# Node.js for the Bedrock protocol client test: Debian's, unless the machine has its own.
command -v npm >/dev/null || packages+=(nodejs npm libnode-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    # As root, apt-get directly (a fresh Debian has no sudo); as a normal user, through sudo.
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null; then
            echo "需要 root 权限安装这些 Debian 软件包（请用 root 运行，或先安装 sudo）：${missing[*]}" >&2
            exit 1
        fi
        as_root=(sudo)
    fi
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# coturn/knot packages may start their daemons on systems with an init; the tests
# start their own instances on their own addresses, so the packaged ones are not needed.
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# Python packages go into the project's own .venv, never into the system Python.
py=$(bash tools/venv.sh --dev)
# The pure wheels the zipapp bundles, kept locally so building it needs no network.
"$py" -m pip download -q -d .wheelhouse --only-binary=:all: --platform any --implementation py \
    --python-version 3.10 -r requirements.txt 2>&1 | grep -v '^WARNING: Location' || true
"$py" -m pip download -q -d .wheelhouse --only-binary=:all: --platform any --implementation py \
    --python-version 3.10 --no-deps -r requirements-nodeps.txt 2>&1 | grep -v '^WARNING: Location' || true
"$py" -c "import dns, mcstatus, prometheus_client, apprise, pytest, hypothesis, shiv"
# A real Bedrock protocol client/server (PrismarineJS bedrock-protocol, pinned in
# tests/node/package-lock.json) for the loopback test of Bedrock's advertised port.
# raknet-native (under bedrock-protocol) compiles a Node addon; cmake-js would download Node's
# headers from the Internet unless told where the installed ones are (nodejs/libnode-dev ship them).
node_headers=()
[ -f /usr/include/node/node.h ] && node_headers=(env npm_config_nodedir=/usr)
(cd tests/node && "${node_headers[@]}" npm ci --no-audit --no-fund --loglevel=error)
