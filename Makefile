# capgap: two commands do everything on a fresh machine.
#   make run    create the virtualenv, install the locked runtime set, start the bot (needs CAPGAP_TELEGRAM_TOKEN or .env)
#   make test   create the virtualenv with the locked test set and run the whole suite
#   make lint   ruff and mypy (the CI gates; 0 findings)
#   make bench  the benchmarks (the locked bench set: pyfedwatch, psutil); make soak the soak
#   make lock   update the lock files (requirements*.txt) from pyproject.toml with pip-tools, keeping the
#               other pins; `make lock LOCK_ARGS=--upgrade` moves everything to the newest versions
# Installs come from the lock files only, every file checked against its hash (pip fails on anything
# unlocked); the project itself goes on top without re-resolving (--no-deps), built by the locked
# setuptools (--no-build-isolation).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_VERSION := 26.0.1
PIP_TOOLS_VERSION := 7.5.3
LOCKS := requirements.txt requirements-test.txt requirements-bench.txt
# The install stamps change with pyproject.toml and with any lock file, so an edited lock reinstalls.
HASH := $(shell cat pyproject.toml $(LOCKS) 2>/dev/null | cksum | cut -d' ' -f1)
INSTALL = $(BIN)/python -m pip install -q --require-hashes -r $(1) && \
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .

.PHONY: run test bench soak lint lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q pip==$(PIP_VERSION)

$(VENV)/.run-$(HASH): pyproject.toml requirements.txt | $(BIN)/python
	$(call INSTALL,requirements.txt)
	touch $@

$(VENV)/.test-$(HASH): pyproject.toml requirements-test.txt | $(BIN)/python
	$(call INSTALL,requirements-test.txt)
	touch $@

$(VENV)/.bench-$(HASH): pyproject.toml requirements-bench.txt | $(BIN)/python
	$(call INSTALL,requirements-bench.txt)
	touch $@

run: $(VENV)/.run-$(HASH)
	$(BIN)/capgap run

test: $(VENV)/.test-$(HASH)
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing on purpose" >&2; exit 1; fi; \
	exit $$status

bench: $(VENV)/.bench-$(HASH)
	$(BIN)/python -m bench

# Months of service in minutes: the bot driven through 60 NYSE sessions with 10k chats (bench/bench_soak.py).
soak: $(VENV)/.bench-$(HASH)
	$(BIN)/python -m bench soak

# Quality gates (run by .ci/run before the tests): ruff and mypy come from the locked test set; settings in
# pyproject.toml ([tool.ruff], [tool.mypy]: strict over bot, handlers, jobs). Any finding fails.
lint: $(VENV)/.test-$(HASH)
	$(BIN)/python -m ruff check bot handlers jobs tests bench scripts
	$(BIN)/python -m mypy

# pip-tools lives in its own virtualenv so it never lands in the project's. Each set is compiled against
# the one below it (-c), so the runtime, test and bench sets share every version they have in common.
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/piptools/bin/pip-compile -q --generate-hashes \
	--allow-unsafe --strip-extras --all-build-deps --no-emit-index-url --no-emit-find-links \
	--no-emit-trusted-host $(LOCK_ARGS)

lock: | $(BIN)/python
	test -x $(VENV)/piptools/bin/pip-compile || { $(PYTHON) -m venv $(VENV)/piptools && \
		$(VENV)/piptools/bin/python -m pip install -q pip==$(PIP_VERSION) pip-tools==$(PIP_TOOLS_VERSION); }
	$(PIP_COMPILE) -o requirements.txt pyproject.toml
	$(PIP_COMPILE) --extra test -c requirements.txt -o requirements-test.txt pyproject.toml
	$(PIP_COMPILE) --extra test --extra bench -c requirements-test.txt -o requirements-bench.txt pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache
