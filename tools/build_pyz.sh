#!/usr/bin/env bash
# Build nat1_traversal.pyz with shiv from this checkout.
#
# The bundled dependencies are the pure-Python wheels pinned in requirements.txt,
# fetched for "any platform, Python 3.10", so one .pyz runs on Linux (x86-64, ARM),
# macOS and Windows. The AliDNS SDK is not bundled (it needs compiled packages):
# users of dns=alidns install it beside Python (pip install alibabacloud_alidns20150109).
# SOURCE_DATE_EPOCH + shiv --reproducible give the same bytes for the same inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-nat1_traversal.pyz}
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

if ! "$python" -c "import shiv" 2>/dev/null; then
    "$python" -m pip install -q "shiv==1.0.8" 2>&1 | grep -v '^WARNING: Location' || true
fi
# tools/install_deps.sh fills .wheelhouse/ so that a build (and the zipapp test) needs no network.
source_args=()
if [ -d .wheelhouse ]; then
    source_args=(--no-index --find-links .wheelhouse)
fi
if ! "$python" -m pip install -q --target "$work/site" --no-compile --only-binary=:all: "${source_args[@]}" \
        --platform any --implementation py --python-version 3.10 -r requirements.txt >"$work/pip.log" 2>&1; then
    grep -v '^WARNING: Location' "$work/pip.log" >&2
    exit 1
fi
# Pure packages whose declared dependencies include one without a pure wheel that they do not
# need for what we use (apprise -> PyYAML): installed without dependencies (see the file).
if ! "$python" -m pip install -q --target "$work/site" --no-compile --only-binary=:all: "${source_args[@]}" \
        --platform any --implementation py --python-version 3.10 --no-deps -r requirements-nodeps.txt \
        >"$work/pip.log" 2>&1; then
    grep -v '^WARNING: Location' "$work/pip.log" >&2
    exit 1
fi
# Our own package is copied as source: no wheel build needed, nothing else changes.
"$python" -c "import shutil,sys; shutil.copytree('nat1_traversal', sys.argv[1], dirs_exist_ok=True, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))" "$work/site/nat1_traversal"
rm -rf "$work/site/bin"
# gettext sources (Apprise ships .po beside each .mo); only the compiled .mo is ever read.
find "$work/site" -name '*.po' -delete
"$python" -m shiv --reproducible --compressed --site-packages "$work/site" \
    -p '/usr/bin/env python3' -e nat1_traversal.cli:main -o "$out" >/dev/null
echo "built $out ($(du -k "$out" | cut -f1) KiB)"
