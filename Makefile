# Works on a fresh machine with Python 3.11 and make: targets create .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test test-slow lint demo

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Default suite: TensorFlow backend, then the layer tests again on JAX; two
# pytest workers (pytest-xdist), each test file on one worker.
test: lint
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -q -n 2 --dist loadfile --durations=15
	TF_CPP_MIN_LOG_LEVEL=2 KERAS_BACKEND=jax $(PY) -m pytest -q -n 2 --dist loadfile tests/layers

# Slow tests (real-data training, distributed, benchmarks smoke), then the
# model tests on JAX (about 2 more minutes than the default suite allows).
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow
	TF_CPP_MIN_LOG_LEVEL=2 KERAS_BACKEND=jax $(PY) -m pytest -q tests/test_models.py

# Quickstart: train BiLSTM + attention on the built-in corpus (the
# quickstart recipe), report, export to saved_models/quickstart/ and
# classify its example sentences; then one more with the export.
demo: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/kerasseq train --recipe quickstart --overwrite
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/kerasseq predict \
		saved_models/quickstart "not a single boring scene"
