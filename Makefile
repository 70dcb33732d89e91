# make train: train the course network on SIGNS; make test: lint + the test suite;
# make reader: train the sign reader for real photos (tfsigns/reader.json: landmarks) and score it (tfsigns.robustness);
# make demo: the live reader page (tfsigns.serve) on runs/reader, trained first when missing;
# make export-reader: runs/reader as runs/reader-export, a folder an app runs without tfsigns (tfsigns.export).
# Both create .venv (and install tfsigns with its dev extras) when it is missing.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-tfsigns
SHARED_DATA := ../shared/data/signs
SHARED_MODELS := ../shared/models/mediapipe-hands
SHARED_OTHERHANDS := ../shared/data/otherhands

# Data: --data-dir, else $TFSIGNS_DATA, else data/. The offline mirror beside the
# project stands in for $TFSIGNS_DATA when that is unset.
ifeq ($(TFSIGNS_DATA),)
ifneq ($(wildcard $(SHARED_DATA)/train_signs.h5),)
export TFSIGNS_DATA := $(abspath $(SHARED_DATA))
endif
endif

# The hand models (tfsigns.hands): --hand-models, else $TFSIGNS_MODELS, else the cache, which fetches
# them from MediaPipe's wheel when empty. The offline mirror stands in for $TFSIGNS_MODELS when unset.
ifeq ($(TFSIGNS_MODELS),)
ifneq ($(wildcard $(SHARED_MODELS)/hand_landmark_full.tflite),)
export TFSIGNS_MODELS := $(abspath $(SHARED_MODELS))
endif
endif
# make reader also scores other people's hands when the validation photos are there
PHOTOS := $(if $(wildcard $(SHARED_OTHERHANDS)/0),--photos $(SHARED_OTHERHANDS))

.PHONY: train reader demo export-reader test lint clean

# What train and reader pass on: ARGS, and --overwrite unless ARGS resumes the earlier run
RUN_ARGS = $(if $(filter --resume,$(ARGS)),,--overwrite) $(ARGS)

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# A new `make train` replaces the run an earlier one left in runs/course (unless ARGS resumes it).
train: $(STAMP)
	$(PY) -m tfsigns.train --out runs/course $(RUN_ARGS)

# The recommended reader for photos (docs/reader.md, "The sign reader"): the landmark reader, trained into
# runs/reader, then scored on the test photos as they are and under each shift, and on other people's hands
# and in cluttered scenes when those photos are there (runs/reader/robustness).
reader: $(STAMP)
	$(PY) -m tfsigns.train --config tfsigns/reader.json --checkpoint-every 50 --out runs/reader $(RUN_ARGS)
	$(PY) -m tfsigns.robustness --model runs/reader $(PHOTOS)

# The live reader page (docs/exercises.md, "The live page") on http://127.0.0.1:8000/, serving runs/reader; it is
# trained first (make reader) when there is no finished one. PORT=8001 make demo serves elsewhere.
PORT ?= 8000
demo: $(STAMP)
	test -f runs/reader/metrics.json || $(MAKE) reader
	$(PY) -m tfsigns.serve --model runs/reader --port $(PORT)

# The reader as a folder that runs without tfsigns (docs/export.md): TensorFlow Lite models, reader.json and
# read.py, which `python runs/reader-export/read.py PHOTO` runs with NumPy, Pillow and ai-edge-litert alone.
# runs/reader is trained first (make reader) when there is no finished one; an earlier export is replaced.
export-reader: $(STAMP)
	test -f runs/reader/metrics.json || $(MAKE) reader
	rm -rf runs/reader-export
	$(PY) -m tfsigns.export --model runs/reader --out runs/reader-export

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# pytest exits 5 when it collected no tests: that must fail, not pass. The suite runs on every core
# (pytest-xdist), a test file to a worker, since the files' session fixtures and tallies are their own;
# PYTEST_ARGS="-n 0" runs it in one process.
test: lint
	$(PY) -m pytest -q -n auto --dist loadfile $(PYTEST_ARGS) tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache *.egg-info
