# The two commands of this project: `make demo` and `make test`.
# Each creates .venv and installs the project into it when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint typecheck docs bench clean browser pgbouncer

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,test,docs]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/connectors demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The interpreter page is tested in Debian's Chromium (Playwright drives it and never
# downloads a browser of its own): installed here when missing and apt-get may run.
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "note: no $(CHROMIUM) and no root apt-get: the browser test will be skipped (fails under CI=true)"; \
	  fi; }

# The contract suite also runs through a real PgBouncer (transaction pooling), started by
# the tests on a free port: Debian's package, installed here when missing and apt-get may run.
pgbouncer:
	@command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's pgbouncer for the pooling tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; \
	  else \
	    echo "note: no pgbouncer and no root apt-get: the PgBouncer tests will be skipped (fail under CI=true)"; \
	  fi; }

# The API reference, generated from the docstrings; any warning fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

test: $(STAMP) browser pgbouncer lint typecheck docs
	$(BIN)/pytest -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[all,test,bench]'
	$(BIN)/python -m benchmarks.sql_repository
	$(BIN)/python -m benchmarks.async_repository
	$(BIN)/python -m benchmarks.sqlite_repository
	$(BIN)/python -m benchmarks.jsonfile_repository
	$(BIN)/python -m benchmarks.copy
	$(BIN)/python -m benchmarks.tickets
	$(BIN)/python -m benchmarks.voice
	$(BIN)/python -m benchmarks.scale

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist
