# The two commands of the quick start: `make demo` and `make test`.
# Both work on a fresh machine: they create .venv and install what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.mlcost-installed

.PHONY: demo test lint typecheck pytest bench clean tools azurite

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever the project's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

demo: $(STAMP)
	$(BIN)/mlcost demo

# lint-imports checks the layering declared in pyproject.toml ([tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The Spark tests share one local Spark session (a JVM) and run in their own pytest, so the
# rest of the suite neither waits for nor shares memory with it.
pytest: $(STAMP) tools
	$(BIN)/pytest -m "not spark"
	$(BIN)/pytest -m spark

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py --rows 1000000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache mlcost-demo

# Debian's `prometheus` package gives `promtool` (tests/demo: the DCGM OpenMetrics load) and the
# `prometheus` server that tests/sources/test_prometheus.py backfills and starts on loopback;
# redis-server backs the Redis cache tests (tests/cache). Each runs on a free loopback port.
# A Java runtime (Debian's default-jre-headless: OpenJDK 17) runs local Spark for the
# spark-marked tests (tests/warehouse/test_engines.py).
# Slurm's daemons and client (slurm-wlm: slurmctld, slurmd, slurm-client) run a one-node
# cluster on loopback for tests/policies/test_slurm_cluster.py (auth/none, a config in a temp dir).
# Debian's chromium is the headless browser of the dashboard tests (tests/server/
# test_dashboard_browser.py, driven by Playwright with executable_path; no browser download).
# Installed when we may (root with apt); elsewhere those tests are skipped and say so.
tools:
	@{ command -v promtool && command -v prometheus; } >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& (apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null) \
		|| echo "prometheus not installed: the Prometheus tests will be skipped"; }
	@command -v redis-server >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& (apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server >/dev/null) \
		|| echo "redis-server not installed: the Redis cache tests will be skipped"; }
	@command -v java >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& (apt-get update -qq && apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null) \
		|| echo "java not installed: the Spark tests will be skipped"; }
	@command -v slurmctld >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& (apt-get update -qq && apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client >/dev/null) \
		|| echo "Slurm not installed: the Slurm cluster test will be skipped"; }
	@command -v chromium >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
		&& (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
		|| echo "chromium not installed: the dashboard browser tests will be skipped"; }
	@$(MAKE) --no-print-directory azurite

# Azurite, the Azure Storage emulator, for tests/sources/test_remote_azure.py: from npm, pinned to
# 3.34.0 (3.35 and later need Node 22; Debian 13 has Node 20), installed under .tools/ (never
# globally). Without node the Azure tests are skipped and say so.
AZURITE_VERSION := 3.34.0
azurite:
	@if ! command -v npm >/dev/null; then echo "node/npm not installed: the Azurite tests will be skipped"; \
	elif [ ! -x .tools/azurite/node_modules/.bin/azurite-blob ] || \
		! grep -q '"version": "$(AZURITE_VERSION)"' .tools/azurite/node_modules/azurite/package.json; then \
		mkdir -p .tools/azurite && npm install --silent --no-audit --no-fund --prefix .tools/azurite \
		azurite@$(AZURITE_VERSION) >/dev/null; fi
