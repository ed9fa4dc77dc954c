# Xenon Console -- every set-up step lives here; `make demo` and `make test` work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSDEPS := $(VENV)/.sysdeps
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: all venv install native test check lint typecheck contracts demo bench asan sysdeps clean

all: test

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

# Re-install when the packaging or the C sources change.
$(STAMP): $(BIN)/python pyproject.toml native/build_msm.py $(wildcard native/src/*.c native/src/*.h native/include/*.h)
	@# A module left by `make native` would shadow the one pip builds (its suffix is searched first).
	rm -f native/_msm.cpython-*.so
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)
venv: $(STAMP)

# Rebuild only the C module in place (fast loop while editing native/).
native: $(BIN)/python
	rm -f native/_msm.abi3.so
	$(BIN)/python native/build_msm.py

# Programs the tests talk to (OpenSSH client, tmux, xmlsec1, dnsmasq, iptables, openssl).
# Best effort: tests that need a missing tool skip with the reason.
sysdeps: $(SYSDEPS)
$(SYSDEPS): $(BIN)/python
	@bash .ci/sysdeps.sh || echo "warning: some system tools could not be installed; their tests will skip"
	@touch $(SYSDEPS)

test: install sysdeps
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

check: install lint typecheck contracts

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

demo: install
	$(BIN)/xenon demo $(DEMO_ARGS)

bench: install
	@for b in msm policy xps console ssh; do \
	  if [ -f benchmarks/$$b.py ]; then echo "== $$b"; $(BIN)/python -m benchmarks.$$b --json | tail -n 1; fi; \
	done

# The C unit tests of native/, once plain and once under AddressSanitizer + UBSan.
asan:
	$(MAKE) -C native/tests asan

clean:
	rm -rf build native/_msm*.so native/_msm.c native/*.o .pytest_cache .mypy_cache .ruff_cache
