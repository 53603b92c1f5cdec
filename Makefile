# capgap: two commands do everything on a fresh machine.
#   make run    create the virtualenv, install, start the bot (needs CAPGAP_TELEGRAM_TOKEN or .env)
#   make test   create the virtualenv with test extras and run the whole suite
#   make bench  the benchmarks (installs the bench extras: pyfedwatch, psutil)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HASH := $(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run-$(HASH): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.test-$(HASH): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(VENV)/.bench-$(HASH): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $@

run: $(VENV)/.run-$(HASH)
	$(BIN)/capgap run

test: $(VENV)/.test-$(HASH)
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing on purpose" >&2; exit 1; fi; \
	exit $$status

bench: $(VENV)/.bench-$(HASH)
	$(BIN)/python -m bench

lint: $(VENV)/.test-$(HASH)
	$(BIN)/python -m pip install -q ruff
	$(BIN)/python -m ruff check bot handlers jobs tests bench

clean:
	rm -rf $(VENV) .pytest_cache
