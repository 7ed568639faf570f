#!/usr/bin/env bash
# Make .venv (the project's own Python environment) and install into it.
#   tools/venv.sh            -> build tools only (shiv), for `make pyz`
#   tools/venv.sh --dev      -> everything the tests need (requirements-dev.txt)
# Works as root and as a normal user: nothing goes into the system Python, which on
# Debian 12 refuses pip installs (PEP 668). Prints the path of the venv's python.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
if [ ! -x .venv/bin/python ]; then
    if ! "$base" -m venv .venv >/dev/null 2>&1; then
        rm -rf .venv
        # Debian ships venv separately (python3-venv); install it, with sudo when not root.
        sudo_=(); [ "$(id -u)" -ne 0 ] && sudo_=(sudo)
        if command -v apt-get >/dev/null && { [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null; }; then
            echo "安装 python3-venv ..." >&2
            "${sudo_[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >&2 \
                || { "${sudo_[@]}" apt-get update -q >&2 && "${sudo_[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >&2; }
        fi
        "$base" -m venv .venv || { echo "无法创建 Python 虚拟环境 .venv：请先安装 python3-venv" >&2; exit 1; }
    fi
fi
py=.venv/bin/python
if [ "${1:-}" = "--dev" ]; then
    stamp=.venv/.dev-installed
    if [ ! -f "$stamp" ] || [ requirements-dev.txt -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ] \
            || [ requirements-nodeps.txt -nt "$stamp" ]; then
        "$py" -m pip install -q -r requirements-dev.txt >&2
        touch "$stamp"
    fi
elif ! "$py" -c "import shiv" 2>/dev/null; then
    "$py" -m pip install -q "shiv==1.0.8" >&2
fi
echo "$py"
