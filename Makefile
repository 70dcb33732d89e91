# make train: train the course network on SIGNS; make test: lint + the test suite;
# make reader: train the sign reader for real photos (tfsigns/reader.json: ASL's ten digits, on SIGNS and other
# students' photos of the digits; without those photos, the six-sign reader, tfsigns/reader_signs.json);
# make reader-score: score it on the shifts, other people's hands and cluttered scenes (tfsigns.robustness);
# make demo: the live reader page (tfsigns.serve) on runs/reader, trained first when missing;
# make export-reader: runs/reader as runs/reader-export, a folder an app runs without tfsigns (tfsigns.export),
# and a web page that runs it on a phone (runs/reader-export/web); make web: LiteRT.js for that page (npm ci).
# Both create .venv (and install tfsigns with its dev extras) when it is missing.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-tfsigns
SHARED_DATA := ../shared/data/signs
SHARED_MODELS := ../shared/models/mediapipe-hands
SHARED_OTHERHANDS := ../shared/data/otherhands
SHARED_DIGITS := ../shared/data/digits

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
# The ten-digit reader's photos of other students' hands (tfsigns.images.digits): --digits-dir, else
# $TFSIGNS_DIGITS, else data/digits. The mirror's 6-9 and 0-5 stand in for $TFSIGNS_DIGITS when it is unset.
ifeq ($(TFSIGNS_DIGITS),)
ifneq ($(wildcard $(SHARED_DIGITS)/6),)
export TFSIGNS_DIGITS := $(abspath $(SHARED_DIGITS)):$(abspath $(SHARED_OTHERHANDS))
endif
endif
DIGITS := $(or $(TFSIGNS_DIGITS),$(wildcard data/digits))
READER_CONFIG := $(if $(DIGITS),tfsigns/reader.json,tfsigns/reader_signs.json)
# make reader-score scores other people's hands, those the reader never trained on, where the photos are there
PHOTOS := $(if $(DIGITS),--photos $(DIGITS),$(if $(wildcard $(SHARED_OTHERHANDS)/0),--photos $(SHARED_OTHERHANDS)))

# LiteRT.js, the page's TensorFlow Lite runtime (tfsigns/web, docs/export.md): the npm packages package-lock.json
# pins, installed by npm ci (Node and npm from the system: apt-get install nodejs npm where missing)
WEB_DEPS := tfsigns/web/node_modules/.package-lock.json

.PHONY: train reader reader-score demo export-reader web test lint clean

# What train and reader pass on: ARGS, and --overwrite unless ARGS resumes the earlier run
RUN_ARGS = $(if $(filter --resume,$(ARGS)),,--overwrite) $(ARGS)

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# A new `make train` replaces the run an earlier one left in runs/course (unless ARGS resumes it).
train: $(STAMP)
	$(PY) -m tfsigns.train --out runs/course $(RUN_ARGS)

# The recommended reader for photos (docs/reader.md, "The landmark reader"): the ten-digit landmark reader,
# trained into runs/reader on SIGNS and the photos of the digits, a fifth of their students held out (it prints
# its accuracy on them); without those photos, it says so and trains the six-sign reader on SIGNS alone.
reader: $(STAMP)
	@test -n "$(DIGITS)" || echo "make reader: no photos of the signs 6-9 (\$$TFSIGNS_DIGITS is unset and data/digits is missing; data/README.md says where they are published): training the six-sign reader, tfsigns/reader_signs.json" >&2
	$(PY) -m tfsigns.train --config $(READER_CONFIG) --checkpoint-every 50 --out runs/reader $(RUN_ARGS)

# runs/reader scored on the test photos as they are and under each shift, and on other people's hands and in
# cluttered scenes where those photos are there (runs/reader/robustness): a few minutes.
reader-score: $(STAMP)
	test -f runs/reader/metrics.json || $(MAKE) reader
	$(PY) -m tfsigns.robustness --model runs/reader $(PHOTOS)

# The live reader page (docs/exercises.md, "The live page") on http://127.0.0.1:8000/, serving runs/reader; it is
# trained first (make reader) when there is no finished one. PORT=8001 make demo serves elsewhere.
PORT ?= 8000
demo: $(STAMP) $(WEB_DEPS)
	test -f runs/reader/metrics.json || $(MAKE) reader
	$(PY) -m tfsigns.serve --model runs/reader --port $(PORT)

# The reader as a folder that runs without tfsigns (docs/export.md): TensorFlow Lite models, reader.json and
# read.py, which `python runs/reader-export/read.py PHOTO` runs with NumPy, Pillow and ai-edge-litert alone.
# runs/reader is trained first (make reader) when there is no finished one; an earlier export is replaced.
export-reader: $(STAMP) $(WEB_DEPS)
	test -f runs/reader/metrics.json || $(MAKE) reader
	rm -rf runs/reader-export
	$(PY) -m tfsigns.export --model runs/reader --out runs/reader-export

web: $(WEB_DEPS)

$(WEB_DEPS): tfsigns/web/package.json tfsigns/web/package-lock.json
	@command -v npm >/dev/null || { echo "make web: npm is not installed (apt-get install nodejs npm)" >&2; exit 1; }
	npm ci --prefix tfsigns/web --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# pytest exits 5 when it collected no tests: that must fail, not pass. The suite runs on every core
# (pytest-xdist), a test file to a worker, since the files' session fixtures and tallies are their own,
# the longest files first (tests/conftest.py's LONGEST_FIRST);
# PYTEST_ARGS="-n 0" runs it in one process.
test: lint $(WEB_DEPS)
	$(PY) -m pytest -q -n auto --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS) tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache *.egg-info tfsigns/web/node_modules
