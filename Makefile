# Two commands do everything on a fresh machine with Python >= 3.11 and pip:
#   make run    set up .venv, then run the main job (the seed comparison)
#   make test   set up .venv, then lint, check the published results (results/) against the
#               present code, and run the test suite (one worker per core: pytest-xdist)
# and one opens the workshop's exercises (see notebooks/README.md):
#   make notebooks  set up .venv with JupyterLab (the [notebooks] extra), then start
#                   `jupyter lab notebooks/`
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
RUN_STAMP := $(VENV)/.run-stamp
NOTEBOOKS_STAMP := $(VENV)/.notebooks-stamp
# pip byte-compiles what it installs on one core (about 30 s for the [test] extra, PyTorch's
# 2,300 modules included); compileall does the same on every core. A few files of the
# dependencies are not meant for this Python (pip skips them too), hence `|| true`.
INSTALL = $(PY) -m pip install --quiet --disable-pip-version-check --no-compile -e
COMPILE = $(PY) -m compileall -qq -j0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" || true
RUN_OUT ?= runs/seed_table

.PHONY: setup run test lint findings format notebooks clean

$(PY):
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python >= 3.11 is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(INSTALL) '.[test]'
	$(COMPILE)
	touch $(STAMP)

# `make run` installs only what the seed comparison needs (the engine and the [studies] extra:
# statistics and figures), not PyTorch and the test references; `make test` installs the rest.
$(RUN_STAMP): pyproject.toml | $(PY)
	$(INSTALL) '.[studies]'
	$(COMPILE)
	touch $(RUN_STAMP)

$(NOTEBOOKS_STAMP): pyproject.toml | $(PY)
	$(INSTALL) '.[notebooks]'
	$(COMPILE)
	touch $(NOTEBOOKS_STAMP)

setup: $(STAMP)

run: $(RUN_STAMP)
	$(VENV)/bin/jaxopt-lab compare --config configs/studies/seed_table.yaml --out $(RUN_OUT)

# The published results' replays (mostly compiling: about one core) run beside the test suite;
# their verdict prints when both have ended, and either failing fails the target.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@log=$$(mktemp); echo "$(PY) scripts/findings.py --check (beside the tests)"; \
	$(PY) scripts/findings.py --check > $$log 2>&1 & findings=$$!; \
	$(PY) -m pytest -n auto --dist loadscope --durations=20; tests=$$?; \
	wait $$findings; checked=$$?; cat $$log; rm -f $$log; \
	if [ $$checked -ne 0 ]; then exit $$checked; fi; exit $$tests

findings: $(STAMP)
	$(PY) scripts/findings.py --check

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

notebooks: $(NOTEBOOKS_STAMP)
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
