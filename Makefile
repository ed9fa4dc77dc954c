# Xenon Console -- every set-up step lives here; `make demo` and `make test` work on a fresh machine.
# The interpreter: the first found of PYTHONS (see the README's "Interpreter" section for why).
PYTHONS ?= 3.12 3.13 3.11
PY ?= $(shell .ci/find-python $(PYTHONS))
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSDEPS := $(VENV)/.sysdeps
# uv itself, pinned with hashes, in its own small environment (uv sync manages .venv).
UVENV := .uv
UV := $(UVENV)/bin/uv
STEP := .ci/step
export PYTHONDONTWRITEBYTECODE := 1
# Never download an interpreter; the lock says what is installed, never the index's newest.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: all venv install native test check lint typecheck contracts demo bench asan sysdeps lock clean

all: test

$(UV): .ci/uv-bootstrap.txt
	@$(STEP) "uv (pinned, hashed)" sh -c '"$(PY)" -m venv --clear $(UVENV) && $(UVENV)/bin/pip install --require-hashes --no-deps -r .ci/uv-bootstrap.txt'

# Two syncs: the locked dependencies (the build tools among them), then the project itself,
# whose C module (native._msm) is built in that environment by the locked setuptools + cffi.
# Re-run when the lock, the packaging or the C sources change.
$(STAMP): $(UV) pyproject.toml uv.lock native/build_msm.py $(wildcard native/src/*.c native/src/*.h native/include/*.h)
	@# A module left by `make native` would shadow the one the build makes (its suffix is searched first).
	@rm -f native/_msm.cpython-*.so
	@$(STEP) "venv + locked dependencies ($(notdir $(PY)))" $(UV) sync --locked --extra dev --no-install-project --python "$(PY)"
	@$(STEP) "build native._msm + install" $(UV) sync --locked --extra dev --reinstall-package xenon-console --python "$(PY)"
	@touch $(STAMP)

install: $(STAMP)
venv: $(STAMP)

# Refresh uv.lock on purpose (the only thing that changes it): newest versions pyproject allows.
lock: $(UV)
	$(UV) lock --upgrade

# Rebuild only the C module in place (fast loop while editing native/).
native: $(STAMP)
	rm -f native/_msm*.so
	$(BIN)/python native/build_msm.py

# Programs the tests talk to (OpenSSH client, tmux, xmlsec1, dnsmasq, iptables, openssl).
# Best effort: tests that need a missing tool skip with the reason.
sysdeps: $(SYSDEPS)
$(SYSDEPS): $(STAMP)
	@bash .ci/sysdeps.sh || echo "warning: some system tools could not be installed; their tests will skip"
	@touch $(SYSDEPS)

# The suite runs in TEST_WORKERS processes (pytest-xdist; most tests wait on sockets, daemons and
# terminals, so two workers fit two cores). `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 2
test: install sysdeps
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

check: install lint typecheck contracts

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

demo: install
	@echo "starting the demo (xenon demo $(DEMO_ARGS))"
	@$(BIN)/xenon demo $(DEMO_ARGS)

bench: install
	@for b in msm policy xps console ssh; do \
	  if [ -f benchmarks/$$b.py ]; then echo "== $$b"; $(BIN)/python -m benchmarks.$$b --json | tail -n 1; fi; \
	done

# The C unit tests of native/, once plain and once under AddressSanitizer + UBSan.
asan:
	$(MAKE) -C native/tests asan

clean:
	rm -rf build $(UVENV) native/_msm*.so native/_msm.c native/*.o .pytest_cache .mypy_cache .ruff_cache
