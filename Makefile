# Threadline. `make run` serves the whole platform; `make test` runs the test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi
export PORT

.PHONY: run test test-browser test-all security audit install install-tests install-browser migrate seed messages clean bench

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(BIN)/.installed-tests: $(BIN)/.installed tests/requirements.txt
	$(BIN)/python -m pip install --quiet -r tests/requirements.txt
	touch $@

$(BIN)/.installed-bench: $(BIN)/.installed bench/requirements.txt
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	touch $@

## system packages the tests start for themselves: Dovecot (the reply mailbox poller's IMAP
## server) and, for the browser tests, Chromium; installed with apt-get when missing
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_INSTALL = DEBIAN_FRONTEND=noninteractive $(SUDO) sh -c 'apt-get update -qq && apt-get install -y -qq $(1)'

install: $(BIN)/.installed
install-tests: $(BIN)/.installed-tests
	@test -x /usr/sbin/dovecot || command -v dovecot >/dev/null || $(call APT_INSTALL,dovecot-imapd)

install-browser: install-tests
	@test -x /usr/bin/chromium || $(call APT_INSTALL,chromium)

## run: install, migrate, seed demo content on an empty database, serve http://127.0.0.1:$(PORT)
run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo --if-empty
	$(BIN)/flask embedded

migrate: install
	$(BIN)/flask db upgrade

seed: install
	$(BIN)/flask seed-demo

## test: the whole suite except the browser tests (SQLite; PostgreSQL and Redis with TEST_DATABASE_URL / TEST_REDIS_URL)
test: install-tests
	$(BIN)/python -m pytest tests --ignore=tests/browser

## test-browser: Playwright driving Debian's Chromium (apt-get install chromium)
test-browser: install-browser
	$(BIN)/python -m pytest tests/browser

test-all: test test-browser

## bench: the issue-7 benchmarks (B1..B6) on SQLite and PostgreSQL, ~20 min; one: make bench B=B1; extra options: BENCH_ARGS="--db postgresql --snapshot HEAD"
bench: $(BIN)/.installed-bench
	command -v wrk >/dev/null || apt-get install -y -qq wrk || echo "wrk could not be installed: the slower Python load generator is used"
	$(BIN)/python bench/run.py $(if $(B),--only $(B)) $(BENCH_ARGS)
## security: static analysis of our code (bandit); reviewed exceptions are marked "# nosec" with a reason above
security: install-tests
	$(BIN)/bandit --quiet --recursive campaigns config.py wsgi.py

## audit: known vulnerabilities in every installed package (pip-audit, PyPI's advisories);
## --strict fails when a package cannot be audited; reviewed exceptions: .ci/pip-audit-ignore
audit: install-tests
	$(BIN)/pip-audit --strict --progress-spinner off \
	  $(addprefix --ignore-vuln ,$(shell sed -e 's/#.*//' .ci/pip-audit-ignore))

## messages: extract translatable strings into campaigns/translations/messages.pot
messages: install
	$(BIN)/pybabel extract -F campaigns/translations/babel.cfg -k _l -k lazy_gettext -o campaigns/translations/messages.pot .

clean:
	rm -rf $(VENV) instance .pytest_cache
