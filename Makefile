# vendorscope: `make demo` runs the whole pipeline on the bundled demo data,
# `make test` runs the test suite. Both create .venv and install on first use.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup system demo test bench accuracy lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Programs the tests drive for real: PostgreSQL, Chromium, nmap (Debian packages).
system:
	bash scripts/install-system-deps.sh

demo: setup
	$(VENV)/bin/vendorscope demo

test: setup system
	$(PY) -m pytest -n 2 --dist loadfile -q -p no:cacheprovider

bench: setup
	bash scripts/install-system-deps.sh bench
	$(PY) benchmarks/run_all.py

# Attribution accuracy on Rapid7 recog's examples (../shared/recog or RECOG=path/to/recog).
accuracy: setup
	$(PY) benchmarks/accuracy.py $(if $(RECOG),--recog $(RECOG))

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy src

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache vendorscope.db demo-report.html .lab
