# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
# The CPU build of torch is installed first so that nothing later pulls a multi-GB CUDA build: PyPI's Linux torch
# IS the CUDA build (+ ~15 nvidia-* packages), so torch alone comes from PyTorch's CPU wheel index. Where that index
# is unreachable (an offline mirror), torch comes from pip's configured indexes, but only after a dry run shows no
# nvidia-* package in the plan. GPU machines: see README "Install".
TORCH ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: demo demo-arena test setup setup-dev chromium lint clean

$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e '.[meteor]'
	touch $@

$(VENV)/.torch: $(VENV)/.core
	@if $(PY) -c "import urllib.request; urllib.request.urlopen('$(TORCH_INDEX)/torch/', timeout=10)" 2>/dev/null; then \
	  echo "$(TORCH): CPU build from $(TORCH_INDEX)"; \
	  $(PIP) --index-url $(TORCH_INDEX) $(TORCH); \
	else \
	  echo "$(TORCH_INDEX) unreachable: $(TORCH) from pip's configured indexes if that is a CPU build"; \
	  $(PIP) --dry-run --report $(VENV)/torch-plan.json $(TORCH) && \
	  $(PY) -c "import json, sys; plan = [i['metadata']['name'] for i in json.load(open('$(VENV)/torch-plan.json'))['install']]; \
	    cuda = [n for n in plan if n.lower().startswith('nvidia-')]; \
	    sys.exit(f'refusing: that torch is a CUDA build (it brings {\", \".join(cuda)}); make TORCH_INDEX=<a reachable CPU wheel index> test' if cuda else 0)" && \
	  $(PIP) $(TORCH); \
	fi
	touch $@

# radeval is the reference for the GREEN test only: --no-deps, as its declared dependencies (torchvision, medspacy,
# stanza, ...) are not needed by the part compared, and torchvision must not come in. crimson-score (CRIMSON's
# package, used by the crimson metric and its test) likewise: its declared dependencies (openai,
# sentence-transformers, ...) are not used, and it declares Python >= 3.12 although the parts used run on 3.10+.
# RaTEScore and medspacy --no-deps: medspacy pins spacy < 3.8 on Python < 3.12, which pulls numpy below 2
$(VENV)/.dev: $(VENV)/.torch
	$(PIP) -e '.[hf,judge,arena,train,dev]'
	$(PIP) --no-deps 'radeval==2.2.1'
	$(PIP) --no-deps --ignore-requires-python 'crimson-score==0.2.2'
	$(PIP) -e '.[ratescore]'
	$(PIP) --no-deps 'RaTEScore==0.6.0' 'medspacy==1.3.1' 'medspacy_quickumls==3.2'
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

# The browser tests (leaderboard page, reader study) need Debian's chromium: installed where apt-get may be used
# (root or password-less sudo), as .ci/run does; elsewhere they are skipped and pytest's summary says why.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	  echo "chromium not found: installing it for the browser tests"; \
	  ($$sudo apt-get update -qq && $$sudo apt-get install -y -qq chromium) \
	    || echo "WARNING: chromium could not be installed; the browser tests will be skipped"; \
	else \
	  echo "chromium not found and apt-get not usable here: the browser tests will be skipped"; \
	fi

test: setup-dev chromium
	$(VENV)/bin/pytest -q

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports  # the layering contracts in .importlinter (also run by tests/test_architecture.py)

clean:
	rm -rf $(VENV) runs .pytest_cache
