# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
# The CPU build of torch is installed first so that nothing later pulls a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: demo demo-arena test setup setup-dev lint clean

$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e '.[meteor]'
	touch $@

$(VENV)/.dev: $(VENV)/.core
	$(PIP) $(TORCH)
	$(PIP) -e '.[hf,judge,arena,train,dev]'
	touch $@

setup: $(VENV)/.core
setup-dev: $(VENV)/.dev

demo: setup
	rm -rf runs/demo
	$(VENV)/bin/xraybench run --model baseline:retrieval --tasks demo --out runs/demo --bootstrap-rounds 200

# optional: the offline Report Arena demo (baselines + synthetic models, metric:clinical proxy judge)
demo-arena: setup
	$(PIP) -e '.[meteor,arena]'
	$(VENV)/bin/xraybench arena demo

test: setup-dev
	$(VENV)/bin/pytest -q

lint: setup-dev
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) runs .pytest_cache
