# Two commands set everything up from a fresh clone:
#   make demo   - a virtual environment with today's datasets, then `audio-dialogues demo` on the bundled sample
#   make test   - ruff (format and lint), then the whole suite in three environments: the newest datasets 5.x, the same with torch
#                 (the DataLoader tests, skipped elsewhere, run there), and datasets==3.6.0
PYTHON ?= python3
VENV5 := .venv/datasets5
VENV5T := .venv/datasets5-torch
VENV36 := .venv/datasets36
PYTEST_ARGS ?=

.PHONY: demo test lint browser screenshots test5 test5torch test36 clean

demo: $(VENV5)/.installed
	$(VENV5)/bin/audio-dialogues demo

test: lint browser test5 test5torch test36

# Headless Chromium from Debian for the browser tests (tests/test_review_browser.py, driven by Playwright pointed at
# this executable: no browser is downloaded at run time). Those tests are skipped where it is absent.
browser:
	command -v chromium || (apt-get update && apt-get install -y chromium)

# The screenshots in docs/look-at-the-data.md, made by the browser tests themselves.
screenshots: $(VENV5)/.installed browser
	AUDIO_DIALOGUES_SCREENSHOTS=docs/img $(VENV5)/bin/python -m pytest -q tests/test_review_browser.py

# The house rules: ruff's formatter and linter, one line length (pyproject.toml).
lint: $(VENV5)/.installed
	$(VENV5)/bin/ruff format --check .
	$(VENV5)/bin/ruff check .

test5: $(VENV5)/.installed
	$(VENV5)/bin/python -m pytest $(PYTEST_ARGS)

test5torch: $(VENV5T)/.installed
	$(VENV5T)/bin/python -m pytest $(PYTEST_ARGS)

test36: $(VENV36)/.installed
	$(VENV36)/bin/python -m pytest $(PYTEST_ARGS)

$(VENV5)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV5)
	$(VENV5)/bin/pip install --quiet --upgrade pip
	$(VENV5)/bin/pip install --quiet -e '.[test]' 'datasets>=5,<6'
	touch $@

# torch is pinned to the version whose CPU wheel pip's find-links offers here; an unpinned `torch` from
# PyPI is a multi-GB CUDA build. lhotse (the lhotse extra) needs torch, so its interop tests run here.
$(VENV5T)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV5T)
	$(VENV5T)/bin/pip install --quiet --upgrade pip
	$(VENV5T)/bin/pip install --quiet -e '.[test,lhotse]' 'datasets>=5,<6' torch==2.13.0
	touch $@

$(VENV36)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV36)
	$(VENV36)/bin/pip install --quiet --upgrade pip
	$(VENV36)/bin/pip install --quiet -e '.[test]' 'datasets==3.6.0'
	touch $@

clean:
	rm -rf .venv build *.egg-info
