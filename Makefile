# camrobust: `make demo` runs the workflow on config.yaml, `make test` runs the tests, `make docs`
# builds the documentation site into site/. Each creates .venv and installs what it needs on first use.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint docs bench clean install

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -e ".[workflow,test,docs]"
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

# The documentation site, site/index.html: every page, link and API reference must build (--strict).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(STAMP)
	$(BIN)/pip install --no-deps rbo
	$(BIN)/python benchmarks/cam_throughput.py
	$(BIN)/python benchmarks/score_throughput.py

clean:
	rm -rf results logs .snakemake site
