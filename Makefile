# nat1_traversal — build and test entry points (see README).
# Everything Python runs from the project's own .venv (made by tools/venv.sh), so the
# same commands work as root on a fresh Debian (no sudo there) and as a normal user.
PYTHON ?= .venv/bin/python
# Tests that build network namespaces need root: a normal user's run goes through sudo.
AS_ROOT := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo --preserve-env=CI,NAT1_LANG env PYTHONDONTWRITEBYTECODE=1)

.PHONY: all pyz exe hook test check deps lint typecheck demo bench soak clean

all: pyz hook

pyz:            ## the one-file zipapp nat1_traversal.pyz (shiv)
	PYTHON=$$(bash tools/venv.sh) bash tools/build_pyz.sh nat1_traversal.pyz

exe:            ## one-file binary with PyInstaller (Windows release build; also works on Linux)
	$(PYTHON) -m PyInstaller --noconfirm --clean nat1_traversal.spec

hook:           ## hook_bind/hook_bind.so for shared-port mode (Linux)
	$(MAKE) -C hook_bind

deps:           ## install everything the tests need (Debian packages + pip; needs root)
	bash tools/install_deps.sh

lint:
	$(PYTHON) -m ruff check .

typecheck:
	$(PYTHON) -m mypy

test: lint typecheck   ## the whole suite: ruff, mypy --strict, pytest (as root: through sudo for a normal user)
	$(AS_ROOT) $(PYTHON) -m pytest -q $(if $(AS_ROOT),-p no:cacheprovider)

check: deps test   ## what CI runs: install, then the whole suite

demo:           ## see a player join through an emulated FULL CONE NAT (root)
	$(AS_ROOT) $(PYTHON) -m demo

bench:          ## forwarder benchmarks (loopback only)
	$(PYTHON) bench/forward_bench.py

SOAK_SECONDS ?= 600
SOAK_SEED ?= 1
soak:           ## chaos soak in the NAT lab (root; SOAK_SECONDS=600 SOAK_SEED=1): figures, exit 1 if a goal is missed
	$(AS_ROOT) $(PYTHON) -m tests.soak --duration $(SOAK_SECONDS) --seed $(SOAK_SEED)

clean:
	rm -rf build dist *.egg-info nat1_traversal.pyz .venv .mypy_cache .ruff_cache .pytest_cache
	-$(MAKE) -C hook_bind clean
