# Two commands on a fresh machine: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run test lint format bench chaos install node sysdeps clean check-config

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Node tools (anvil, cast, solc) from npm, pinned by package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error && touch $(NODE_STAMP); \
	else echo "npm not found: the chain part of the sandbox stays off"; fi

# Debian packages the browser test (chromium) and the PostgreSQL tests (initdb, pg_ctl)
# need, installed when missing. Without root or apt the tests that need them say so.
SYSDEPS := chromium postgresql
sysdeps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian packages:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get -qq update >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends $$missing >/dev/null; \
	else echo "missing Debian packages:$$missing (install them as root; the tests that need them will say so)"; fi

node:
	@if [ -f package.json ]; then $(MAKE) --no-print-directory $(NODE_STAMP); fi

# Without INCIDENT_BOT_DISCORD_TOKEN the bot runs in the sandbox (a local Discord).
run: install node
	@if [ -n "$$INCIDENT_BOT_DISCORD_TOKEN" ]; then \
		$(BIN)/incident-bot run --config $${CONFIG:-incident-bot.toml}; \
	else \
		echo "No INCIDENT_BOT_DISCORD_TOKEN: starting the sandbox."; \
		$(BIN)/incident-bot sandbox $(SANDBOX_ARGS); \
	fi

check-config: install
	$(BIN)/incident-bot check-config --config $${CONFIG:-incident-bot.toml}

# The checks CI and the pre-commit hook run: lint, format, types and the Dockerfile.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

# The end-to-end tests mostly wait on loopback: three workers keep 2 cores busy.
PYTEST_WORKERS ?= 3
test: lint node sysdeps
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install node
	$(BIN)/python -m bench $(BENCH_ARGS)

# The drills (issue 15): the bot killed, starved and restarted from outside; a table, and
# chaos/results/*.json. CHAOS_ARGS names drills (e.g. `make chaos CHAOS_ARGS=storm`).
chaos: install node
	$(BIN)/python -m chaos $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
