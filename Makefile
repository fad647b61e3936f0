# Two commands set everything up from a fresh clone:
#   make demo   - a virtual environment with today's datasets, then `audio-dialogues demo` on the bundled sample
#   make test   - the whole suite on the newest datasets 5.x AND on datasets==3.6.0 (two environments)
PYTHON ?= python3
VENV5 := .venv/datasets5
VENV36 := .venv/datasets36
PYTEST_ARGS ?=

.PHONY: demo test test5 test36 clean

demo: $(VENV5)/.installed
	$(VENV5)/bin/audio-dialogues demo

test: test5 test36

test5: $(VENV5)/.installed
	$(VENV5)/bin/python -m pytest $(PYTEST_ARGS)

test36: $(VENV36)/.installed
	$(VENV36)/bin/python -m pytest $(PYTEST_ARGS)

$(VENV5)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV5)
	$(VENV5)/bin/pip install --quiet --upgrade pip
	$(VENV5)/bin/pip install --quiet -e '.[test]' 'datasets>=5,<6'
	touch $@

$(VENV36)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV36)
	$(VENV36)/bin/pip install --quiet --upgrade pip
	$(VENV36)/bin/pip install --quiet -e '.[test]' 'datasets==3.6.0'
	touch $@

clean:
	rm -rf .venv build *.egg-info
