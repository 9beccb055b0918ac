# The two commands a developer, a facilitator or CI needs: `make serve` and `make test`.
# Both create .venv and install the course into it on a fresh clone.
VENV ?= .venv
PY := $(VENV)/bin/python
# nbgrader runs `alembic` from PATH when it creates a gradebook.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: install serve serve-cohort test test-hub hub-proxy release bench chromium node bwrap strace postgresql

# The module pages' front end (frontend/): ipywidgets' own JS on the page's kernel, bundled by esbuild.
PAGE_JS := course/jupyter/voila/templates/allies/static/page.js

install: $(VENV)/.installed $(PAGE_JS) bwrap

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,hub]'
	touch $@

$(PAGE_JS): frontend/package-lock.json frontend/package.json $(wildcard frontend/src/*.js) | node
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

# Node.js and npm build the front end (Debian's, if the machine has none).
node:
	@command -v npm >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq nodejs npm; }

# Debian's bubblewrap: the grading sandbox runs each learner's notebook in it (course/grading/sandbox.py).
bwrap:
	@command -v bwrap >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq bubblewrap; }

# Debian's strace: tests/test_store.py traces a writer's system calls to see every save synced to disk.
strace:
	@command -v strace >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq strace; }

# Debian's PostgreSQL server: the answer store's tests (tests/helpers/postgres.py) and bench/store.py start a
# throwaway cluster of their own with its initdb and pg_ctl; the package's own cluster is not used.
postgresql:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq postgresql; }

# Debian's chromium for the browser tests (Playwright cannot download its own browser here).
chromium:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-dejavu-core; }

# `make serve PORT=8900` (and the same for serve-cohort) to use another port.
PORT ?= 8866
# Both sites first draw every view of every explorer into the chart cache (`python -m course charts`), so no
# learner waits for a chart; it has nothing to do until the lessons, their data or the modules change.
serve: install
	$(PY) -m course charts
	$(PY) -m course serve --port $(PORT)

# A hosted cohort: `make serve-cohort INSTANCE=/srv/allies-cohort-1` (add learners first, see README).
INSTANCE ?= instance/cohort
serve-cohort: install
	$(PY) -m course charts
	$(PY) -m course cohort serve --instance $(INSTANCE) --port $(PORT)

release: install
	$(PY) -m course release

test: install chromium strace postgresql hub-proxy
	$(PY) -m pytest -n 2 --dist loadfile

# The course on JupyterHub (deploy/jupyterhub/): JupyterHub's proxy from npm (with node-oidc-provider, the
# identity provider tests/test_hub_signin.py signs in through), then the hub's tests alone (the suite runs them too).
HUB_PROXY := deploy/jupyterhub/node_modules/.bin/configurable-http-proxy
hub-proxy: $(HUB_PROXY)
$(HUB_PROXY): deploy/jupyterhub/package-lock.json | node
	cd deploy/jupyterhub && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test-hub: install chromium hub-proxy
	$(PY) -m pytest tests/test_hub.py tests/test_hub_kernels.py tests/test_hub_signin.py tests/test_z2jh.py tests/test_binder.py

# Each bench holds /tmp/allies-bench.lock, so that no two benches on this machine overlap.
BENCH := flock /tmp/allies-bench.lock $(PY)
bench: install chromium postgresql hub-proxy
	$(BENCH) bench/run.py
	$(BENCH) bench/autograde.py --full
	$(BENCH) bench/submit.py
	$(BENCH) bench/capacity.py --learners 12 --rate 150
	$(BENCH) bench/recovery.py --learners 20
	$(BENCH) bench/dashboard.py
	$(BENCH) bench/hub.py --runs 3
	$(BENCH) bench/hub_load.py
	$(BENCH) bench/store.py
