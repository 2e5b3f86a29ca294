# phago: two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.phago-installed
EXTRAS ?= dev,ray

.PHONY: setup chromium demo test lint bench clean

setup: $(STAMP) chromium

# Headless Chromium for the HTML view test (tests/store/test_viz_*): Debian's package,
# installed when absent; without apt this only warns (and that test then fails, never skips).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium ; } || \
	  echo "warning: could not install chromium (apt-get unavailable or failed)" >&2

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	@touch $(STAMP)

demo: setup
	$(VENV)/bin/phago demo

# Two worker processes (pytest-xdist): the suite waits on Ray and child processes for much
# of its time, and one process kept a 2-core machine about a third busy. The Ray tests
# (tests/ray) run in one worker (tests/conftest.py). `make test TEST_WORKERS=8` on a bigger one.
TEST_WORKERS ?= 2

# With PYTHONDONTWRITEBYTECODE set (Python images set it), every process the suite starts
# would compile its Python anew: each worker its test modules' rewritten asserts (13 s of its
# collection), and each Ray actor and `phago` child phago itself (0.55 s a process). The
# suite writes its bytecode, to __pycache__ folders git ignores.
test: setup
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -n $(TEST_WORKERS)

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

bench: setup
	$(PY) benchmarks/colony_throughput.py --corpus ../shared/data/phago-corpus -R 1 -A 10 -T 200

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
