# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
# The pinned CPU build installs from local disk in about a minute; a plain `torch` pulls CUDA (GBs).
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= all,dev
BIN := $(VENV)/bin
STAMP := $(VENV)/.lrkit-installed
export NO_MKDOCS_2_WARNING := 1

.PHONY: demo test install lint typecheck pytest fuzz peer docs docs-screenshots dist clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	echo "$(TORCH_SPEC)" > $(VENV)/torch-constraint.txt
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -c $(VENV)/torch-constraint.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	MPLBACKEND=Agg $(BIN)/lrkit show "warmup('5%') >> cosine(start=0.1, end=0.001, steps='95%')" --steps 1000
	MPLBACKEND=Agg $(BIN)/lrkit bench --preset quick --name demo

# Python only under docs/ (ruff would also format the Markdown pages' code blocks).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs/*.py
	$(BIN)/ruff format --check src tests benchmarks docs/*.py

typecheck: $(STAMP)
	$(BIN)/mypy src

pytest: $(STAMP)
	$(BIN)/python -m pytest -q

# The Hypothesis properties with random seeds and 10x the examples (tests/conftest.py); `make test`
# runs them derandomized. Run before a release; each failure found becomes an explicit @example.
fuzz: $(STAMP)
	LRKIT_HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -m property -p no:cacheprovider tests

# The replaced libraries' own test suites with lrkit's drop-ins substituted (../shared/peer-suites:
# test data beside the project, never copied into it; CI has it beside the clone). Fails when a
# suite passes fewer tests than its floor in PEER_FLOORS (docs/compat.md lists the known
# differences); a suite without a floor must pass every test. Skipped when the folder is absent.
PEER_DIR ?= ../shared/peer-suites
PEER_FLOORS ?= transformers=3 optax=85
peer: $(STAMP)
	@if [ ! -d "$(PEER_DIR)" ]; then echo "peer suites not found ($(PEER_DIR)), skipped"; exit 0; fi; \
	$(BIN)/python -c "import expecttest" 2>/dev/null || $(BIN)/python -m pip install --quiet expecttest; \
	out=$$(mktemp); PYTHONPATH="$(CURDIR)/src" "$(PEER_DIR)/run.sh" $(BIN)/python | tee $$out; \
	awk -v floors="$(PEER_FLOORS)" -f .ci/peer-floors.awk $$out; rc=$$?; rm -f $$out; exit $$rc

# The documentation site (mkdocs.yml; generated pages: docs/hooks.py) into site/, strictly:
# broken links, missing references and docstring warnings fail the build.
docs: $(STAMP)
	MPLBACKEND=Agg $(BIN)/mkdocs build --strict --site-dir site

# Screenshots of the key pages in headless Chromium (apt-get install chromium) into docs/screenshots/.
docs-screenshots: docs
	docs/screenshots.sh site docs/screenshots

# sdist and wheel into dist/, checked by twine (tests/test_release_wheel.py installs them).
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

test: lint typecheck pytest docs

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache site dist
