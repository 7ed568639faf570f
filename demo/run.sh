#!/bin/sh
# make demo: see nat1_traversal work through an emulated FULL CONE NAT (needs root).
exec python3 "$(dirname "$0")/demo.py" "$@"
