# Two commands matter: `make demo` and `make test`. Everything else serves them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CATALOGUES := hospital/translations scheduling/translations queueing/translations reports/translations kiosk/translations

.PHONY: demo test install translations serve lint format bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) translations

translations: $(STAMP)
	@for d in $(CATALOGUES); do \
	  if [ -d $$d ]; then $(BIN)/pybabel compile --use-fuzzy -q -d $$d -D messages || exit 1; fi; \
	done

demo: install
	$(BIN)/hospital db upgrade
	$(BIN)/hospital seed-demo
	$(BIN)/hospital serve --bind 127.0.0.1:8000 --with-scheduler

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache
