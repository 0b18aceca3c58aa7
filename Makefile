# Every routine task is one command. The virtualenv is created and kept up to date here, so a
# fresh clone needs only Python 3.11+ and cargo.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
CARGO := cargo --quiet
CARGO_MANIFEST := --manifest-path rust/Cargo.toml
# The fuzz targets are a crate of their own (own workspace, own target dir): rust/fuzz.
FUZZ_MANIFEST := --manifest-path rust/fuzz/Cargo.toml
FUZZ_SECONDS ?= 60
# pyo3 links the test binaries against the venv's interpreter; the loader must find libpython.
PYO3_ENV = PYO3_PYTHON=$(abspath $(BIN)/python) \
	LD_LIBRARY_PATH=$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
PYTEST_ARGS ?=

.PHONY: build test lint fmt cargo-test pytest chaos fuzz bench demo clean system-deps lock

$(VENV_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 'maturin>=1.7,<2'
	touch $@

build: $(VENV_STAMP)
	VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/maturin develop --release --extras dev --quiet

lint: build
	$(BIN)/ruff check python tests benches
	$(BIN)/ruff format --check python tests benches
	$(BIN)/mypy
	$(CARGO) fmt $(CARGO_MANIFEST) --check
	$(PYO3_ENV) $(CARGO) clippy $(CARGO_MANIFEST) --all-targets -- -D warnings
	$(CARGO) fmt $(FUZZ_MANIFEST) --check
	$(PYO3_ENV) $(CARGO) clippy $(FUZZ_MANIFEST) --all-targets -- -D warnings

fmt: $(VENV_STAMP)
	$(BIN)/ruff check --fix python tests benches
	$(BIN)/ruff format python tests benches
	$(CARGO) fmt $(CARGO_MANIFEST)
	$(CARGO) fmt $(FUZZ_MANIFEST)

# The crate's tests, then every fuzz target for a few seconds (stable driver) and every saved
# fuzz regression.
cargo-test: build
	$(PYO3_ENV) $(CARGO) test $(CARGO_MANIFEST)
	$(PYO3_ENV) $(CARGO) test $(FUZZ_MANIFEST) --release --lib

system-deps:
	scripts/system-deps.sh

pytest: build system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint cargo-test pytest

# The chaos scenarios at full size (tests/chaos; `make test` runs them bounded). PAYWIRE_CHAOS_SEED
# replays a run.
chaos: build system-deps
	PAYWIRE_CHAOS_SCALE=full $(BIN)/python -m pytest tests/chaos -v -s $(PYTEST_ARGS)

# Each fuzz target for FUZZ_SECONDS: cargo-fuzz when installed, else the stable driver.
fuzz: $(VENV_STAMP)
	$(PYO3_ENV) scripts/fuzz.sh $(FUZZ_SECONDS)

# The container image installs from these, every file checked against its hash: the runtime
# dependencies as pyproject.toml allows them now, and the maturin of deploy/maturin.in. Run after
# changing either, or to take upgrades, and review the diff as code (docs/RUNBOOK.md).
LOCK := $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url \
	--no-emit-find-links
lock: build
	$(LOCK) --output-file deploy/requirements.lock pyproject.toml
	$(LOCK) --output-file deploy/maturin.lock deploy/maturin.in

demo: build
	$(BIN)/paywire demo

bench: build
	$(BIN)/python -m pytest benches --benchmark-only --benchmark-columns=median,mean,ops,rounds

clean:
	rm -rf $(VENV) rust/target rust/fuzz/target .pytest_cache .mypy_cache .ruff_cache .hypothesis .benchmarks
