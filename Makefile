# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
# The pinned CPU build installs from local disk in about a minute; a plain `torch` pulls CUDA (GBs).
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= all,dev
BIN := $(VENV)/bin
STAMP := $(VENV)/.lrkit-installed
export NO_MKDOCS_2_WARNING := 1

.PHONY: demo test test-fast test-floors install lint typecheck pytest fuzz peer docs docs-screenshots dist clean

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
	MPLBACKEND=Agg $(BIN)/lrkit bench --preset demo --name demo

# Python only under docs/ (ruff would also format the Markdown pages' code blocks).
lint: $(STAMP)
	$(BIN)/ruff check conftest.py src tests benchmarks docs/*.py
	$(BIN)/ruff format --check conftest.py src tests benchmarks docs/*.py

typecheck: $(STAMP)
	$(BIN)/mypy src

# One pytest worker per core (pytest-xdist); tests that share a resource (a local Ray instance)
# share an xdist_group and run on one worker.
PYTEST_WORKERS ?= auto
pytest: $(STAMP)
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup

# The everyday loop: the suite without the release checks marked `slow` (wheel in a fresh venv,
# extras, Ray, inductor, gloo ranks), which `make test` and CI still run.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup -m "not slow"

# The declared numpy floor, tested: the framework-free core and its doctests in a venv with
# numpy 1.26.4 (pyproject.toml: numpy>=1.26) and nothing else lrkit could use.
FLOOR_VENV ?= .venv-floor
test-floors:
	test -x $(FLOOR_VENV)/bin/python || $(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install --quiet "numpy==1.26.4" "pytest>=8" "pytest-timeout>=2.3" "hypothesis>=6.100"
	$(FLOOR_VENV)/bin/python -m pip install --quiet --no-deps -e .
	$(FLOOR_VENV)/bin/python -c "import numpy; assert numpy.__version__ == '1.26.4', numpy.__version__"
	$(FLOOR_VENV)/bin/python -m pytest -q -p no:cacheprovider -o addopts="-ra --strict-markers" \
	  tests/test_core_*.py --doctest-modules \
	  tests/test_finder_result.py tests/test_finder_runner.py tests/test_finder_smoothing.py \
	  tests/test_finder_suggestions.py \
	  src/lrkit/core.py src/lrkit/compose.py src/lrkit/families.py src/lrkit/presets.py \
	  src/lrkit/shapes.py src/lrkit/text.py src/lrkit/durations.py src/lrkit/plateau.py

# The Hypothesis properties with random seeds and 10x the examples (tests/conftest.py); `make test`
# runs them derandomized. Run before a release; each failure found becomes an explicit @example.
fuzz: $(STAMP)
	LRKIT_HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -m property -p no:cacheprovider tests

# The replaced libraries' own test suites with lrkit's drop-ins substituted (../shared/peer-suites:
# test data beside the project, never copied into it; CI has it beside the clone). Fails when a
# suite passes fewer tests than its floor in PEER_FLOORS ("suite=N ...", none today: every suite
# passes every test; docs/compat.md lists the known differences). Skipped when the folder is absent.
PEER_DIR ?= ../shared/peer-suites
PEER_FLOORS ?=
peer: $(STAMP)
	@if [ ! -d "$(PEER_DIR)" ]; then echo "peer suites not found ($(PEER_DIR)), skipped"; exit 0; fi; \
	$(BIN)/python -c "import expecttest" 2>/dev/null || $(BIN)/python -m pip install --quiet expecttest; \
	out=$$(mktemp); PYTHONPATH="$(CURDIR)/src" "$(PEER_DIR)/run.sh" $(BIN)/python | tee $$out; \
	awk -v floors="$(PEER_FLOORS)" -f .ci/peer-floors.awk $$out; rc=$$?; rm -f $$out; exit $$rc

# The documentation site (mkdocs.yml; generated pages: docs/hooks.py) into site/, strictly:
# broken links, missing references and docstring warnings fail the build, and so does a public
# name without its own API reference entry (docs/check_site.py).
docs: $(STAMP)
	MPLBACKEND=Agg $(BIN)/mkdocs build --strict --site-dir site
	$(BIN)/python docs/check_site.py site

# Screenshots of the key pages in headless Chromium (apt-get install chromium) into docs/screenshots/.
docs-screenshots: docs
	docs/screenshots.sh site docs/screenshots

# sdist and wheel into dist/, checked by twine (tests/test_release_wheel.py installs them).
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

# The static checks and the docs build are single-threaded: they run side by side on two cores
# (output kept per target), then the suite takes every core.
test: $(STAMP)
	$(MAKE) --no-print-directory -j2 --output-sync=target lint typecheck docs
	$(MAKE) --no-print-directory pytest

clean:
	rm -rf $(VENV) $(FLOOR_VENV) .mypy_cache .pytest_cache .ruff_cache site dist
