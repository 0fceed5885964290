# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
# The pinned CPU build installs from local disk in about a minute; a plain `torch` pulls CUDA (GBs).
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= all,dev
BIN := $(VENV)/bin
STAMP := $(VENV)/.lrkit-installed

.PHONY: demo test install lint typecheck pytest bench-quick benchmarks docs clean

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

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs/gallery.py
	$(BIN)/ruff format --check src tests benchmarks docs/gallery.py

typecheck: $(STAMP)
	$(BIN)/mypy src

pytest: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
