# KillToken: `make run` starts the gateway, `make test` runs every test. Both set themselves up.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
NODE_STAMP := examples/node_modules/.installed

.PHONY: run worker test lint bench key migrate setup setup-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt $(STAMP)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

$(NODE_STAMP): examples/package.json
	cd examples && npm install --no-audit --no-fund --silent
	touch $@

setup: $(STAMP)

setup-dev: $(DEV_STAMP)

run: $(STAMP)
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

worker: $(STAMP)
	$(BIN)/celery -A celery_worker worker --beat --loglevel=INFO --concurrency=2 \
		--schedule=$${TMPDIR:-/tmp}/killtoken-celerybeat-schedule

migrate: $(STAMP)
	$(BIN)/flask --app wsgi migrate

key: $(STAMP)
	@$(BIN)/python -c "from app.security.api_keys import mint; print(mint())"

test: $(DEV_STAMP) $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

bench: $(DEV_STAMP)
	$(BIN)/python bench/overhead.py
