# teiten — the two commands the README starts with: `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO ?= demo
PERIOD ?= 2026-10
# Debian packages the test suite drives for real (decoders to cross-check, live capture, PDF
# checks, Japanese fonts, a browser for the HTML report, network namespaces).
DEB_TEST := tshark tcpdump zstd poppler-utils fonts-noto-cjk chromium iproute2 nftables
DEB_DEMO := fonts-noto-cjk chromium
# A C compiler and the Python headers build the ahead-of-time compiled ingest kernels.
DEB_BUILD := gcc python3-dev
# The ingest kernels compiled ahead of time (teiten.core.aot): rebuilt when their sources
# change; without a compiler teiten runs the same kernels with Numba's JIT.
AOT := src/teiten/_kernels_aot.json
AOT_SRC := $(addprefix src/teiten/,capture/framing.py capture/decode.py capture/linktypes.py \
	capture/damage.py ingest/enrich/kernels.py store/_pqkernels.py core/aot.py)

.PHONY: demo test venv deb-test deb-demo deb-build aot lint bench clean

$(BIN)/teiten: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/teiten

$(AOT): $(BIN)/teiten $(AOT_SRC) | deb-build
	@echo "compiling the ingest kernels ahead of time (~20 s, once)"
	@mkdir -p build && $(BIN)/python -m teiten.core.aot build >build/aot.log 2>&1 || \
	  echo "warning: could not compile the kernels ahead of time (build/aot.log); teiten uses Numba's JIT"

aot: $(AOT)

# Install missing Debian packages non-interactively (root only; elsewhere say what is missing).
# Explicit targets: make skips pattern rules for .PHONY targets, so a `deb-%` rule never ran.
define deb_install
	@missing=""; \
	for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $$missing >/dev/null; \
	  else echo "warning: missing Debian packages (tests needing them will say so):$$missing"; fi; \
	fi
endef

deb-test:
	$(call deb_install,$(DEB_TEST))

deb-demo:
	$(call deb_install,$(DEB_DEMO))

deb-build:
	$(call deb_install,$(DEB_BUILD))

demo: venv aot deb-demo
	$(BIN)/python -m teiten.cli.demo --out $(DEMO) --period $(PERIOD)

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: venv aot deb-test
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: venv aot deb-test
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(DEMO) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache \
	  src/teiten/_kernels_aot*
