# nat1_traversal — build and test entry points (see README).
PYTHON ?= python3

.PHONY: all pyz exe hook test check deps lint typecheck demo bench clean

all: pyz hook

pyz:            ## the one-file zipapp nat1_traversal.pyz (shiv)
	bash tools/build_pyz.sh nat1_traversal.pyz

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

test: lint typecheck   ## the whole suite: ruff, mypy --strict, pytest (netns tests need root)
	$(PYTHON) -m pytest -q

check: deps test   ## what CI runs: install, then the whole suite

demo:           ## see a player join through an emulated FULL CONE NAT (root)
	$(PYTHON) -m demo

bench:          ## forwarder benchmarks (loopback only)
	$(PYTHON) bench/forward_bench.py

clean:
	rm -rf build dist *.egg-info nat1_traversal.pyz .mypy_cache .ruff_cache .pytest_cache
	-$(MAKE) -C hook_bind clean
