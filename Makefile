# The two commands of this project: `make demo` and `make test`.
# Each creates .venv and installs the project into it when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/connectors demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck
	$(BIN)/pytest -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python -m benchmarks.sql_repository
	$(BIN)/python -m benchmarks.jsonfile_repository
	$(BIN)/python -m benchmarks.copy
	$(BIN)/python -m benchmarks.tickets
	$(BIN)/python -m benchmarks.voice

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
