# The two commands a newcomer needs: `make demo` (the whole job on the embedded
# database) and `make test` (sqlfluff, dbt build and the test suite). Both create the
# virtual environment and install everything on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test install clean-db

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/sniper demo

# sqlfluff lint and dbt build run inside the suite, against its own embedded cluster.
# The suite's files are spread over TEST_WORKERS processes (pytest-xdist, whole files per
# worker so module fixtures are built once); each worker has its own cluster, dbt target
# and Prefect home (tests/conftest.py). TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 3
test: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

clean-db: $(STAMP)
	$(BIN)/sniper db stop
	rm -rf .sniper
