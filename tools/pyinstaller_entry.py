"""Entry script for the PyInstaller build (nat1_traversal.spec)."""

import sys

from nat1_traversal.cli import main

sys.exit(main())
