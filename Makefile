# Two commands matter: `make demo` and `make test`. Everything else serves them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CATALOGUES = $(shell find hospital scheduling queueing reports kiosk journey consult -type d -name translations 2>/dev/null)

.PHONY: demo test install translations messages lint format clean screenshots openapi fuzz cluster cluster-stop

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) translations

translations: $(STAMP)
	@for d in $(CATALOGUES); do \
	  if ls $$d/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then $(BIN)/pybabel compile --use-fuzzy -d $$d -D messages >/dev/null || exit 1; fi; \
	done

# Extract new strings into every catalogue (then translate the empty msgstr in each zh .po).
messages: $(STAMP)
	$(BIN)/hospital i18n-update

# `make demo PORT=8001 HOST=0.0.0.0`: links in messages and QR codes follow unless
# HOSPITAL_PUBLIC_URL is set.
HOST ?= 127.0.0.1
PORT ?= 8000
demo: install
	$(BIN)/hospital db upgrade
	HOSPITAL_PUBLIC_URL="$${HOSPITAL_PUBLIC_URL:-http://$(HOST):$(PORT)}" $(BIN)/hospital seed-demo
	$(BIN)/hospital serve --bind $(HOST):$(PORT) --with-scheduler

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The production layout on this machine (see README "Production layout"): PostgreSQL, Redis,
# three web instances, two schedulers and HAProxy on http://127.0.0.1:8080/, under instance/cluster/.
cluster: install
	$(BIN)/python -m deploy.cluster start --seed

cluster-stop:
	$(BIN)/python -m deploy.cluster stop

# The contract tests of `make test` (schemathesis, every check), randomly seeded and larger.
fuzz: install
	HOSPITAL_FUZZ_SEED=random HOSPITAL_FUZZ_EXAMPLES=20 HOSPITAL_FUZZ_STATEFUL_EXAMPLES=50 \
	  HOSPITAL_FUZZ_STATEFUL_STEPS=10 $(BIN)/python -m pytest tests/contract $(PYTEST_ARGS)

# Render the main screens (phone pages, elder mode, staff console, PDFs) into docs/screenshots/.
screenshots: install
	$(BIN)/python tests/browser/screenshots.py docs/screenshots

# Write the OpenAPI snapshot (docs/api/openapi.json) after a meant change to the API.
openapi: $(STAMP)
	$(BIN)/python tests/unit/test_openapi_snapshot.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache
