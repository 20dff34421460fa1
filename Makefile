# camrobust: `make demo` runs the workflow on config.yaml, `make test` runs the tests.
# Both create .venv and install what they need on first use.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench clean install

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -e ".[workflow,test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --workflow-profile profiles/local --cores $(CORES)
	$(BIN)/snakemake --workflow-profile profiles/local --cores $(CORES) --report results/report.html

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

# The library tests without end-to-end workflow runs and the slowest model tests, for the edit loop.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not workflow and not slow" tests

lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/pip install --no-deps rbo
	$(BIN)/python benchmarks/cam_throughput.py
	$(BIN)/python benchmarks/score_throughput.py

clean:
	rm -rf results logs .snakemake
