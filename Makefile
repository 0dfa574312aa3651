# The two commands a newcomer runs: `make demo` and `make test`.
# Both create .venv on first use and install the project into it.
# `sudo make install` puts textback on the PATH for the office box (README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The installed copy: its own venv, independent of this clone. PREFIX/.venv is
# where config/systemd/textback.service runs it from.
PREFIX ?= /opt/textback
BINDIR ?= /usr/local/bin
APP    := $(PREFIX)/.venv

.PHONY: demo test test-unit test-fast test-tier lint typecheck browser bench clean install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/textback demo

lint: $(STAMP)
	$(BIN)/ruff check bridge sms_gateway agi tests bench
	$(BIN)/ruff format --check bridge sms_gateway agi tests bench
	$(BIN)/lint-imports --no-cache --no-logo

typecheck: $(STAMP)
	$(BIN)/mypy

# Every tier (unit, contract, adapters, system, upstream), after lint and mypy:
# what CI runs (.ci/run). The others are for the edit-test loop.
test: lint typecheck browser
	$(BIN)/pytest

# Debian's Chromium for the inbox's browser tests (apt, as root or with sudo);
# where it cannot be installed those tests skip, saying why.
browser:
	@.ci/install-browser || echo "make: no Chromium: the browser tests will SKIP" >&2

# Pure code only: no sockets, ptys or processes; seconds.
test-unit: $(STAMP)
	$(BIN)/pytest -m unit

# Everything but the slow tests (a real MariaDB server, large files).
test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow"

# One tier: make test-tier TIER=adapters
test-tier: $(STAMP)
	$(BIN)/pytest -m $(TIER)

bench: $(STAMP)
	$(BIN)/python bench/ami_intake.py

# umask 022: the unit's DynamicUser is not root and must read the installed files.
install:
	umask 022 && (test -x $(APP)/bin/python || $(PYTHON) -m venv $(APP))
	umask 022 && $(APP)/bin/python -m pip install --quiet .
	install -m 0644 README.md $(PREFIX)/README.md
	install -d $(BINDIR)
	ln -sfn $(APP)/bin/textback $(BINDIR)/textback
	$(BINDIR)/textback --version

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
