# cxjourney — the two commands of the README: `make run` and `make test`.
# Both bootstrap .venv themselves on a fresh machine.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# One worker with threads keeps the in-memory login throttle exact; with more workers
# set REDIS_URL so they share it.
WORKERS ?= 1
THREADS ?= 4

RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
CATALOGUES := $(wildcard cxjourney/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)

.PHONY: run test lint format migrate translations messages clean help

help:
	@echo "make run      – install, migrate, load the demo if the database is empty, serve on http://$(HOST):$(PORT)"
	@echo "make test     – install with dev extras and run the whole suite"
	@echo "make lint     – ruff check and format check"
	@echo "make migrate  – apply database migrations"
	@echo "make messages – extract strings and update the German/English catalogues"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@ $(RUN_STAMP)

# Catalogues are compiled at install time; the .mo files are not in the repository.
%.mo: %.po | $(RUN_STAMP)
	$(BIN)/pybabel compile --statistics -i $< -o $@

translations: $(RUN_STAMP) $(COMPILED)

migrate: translations
	$(BIN)/cxjourney db upgrade

run: migrate
	$(BIN)/cxjourney demo --if-empty
	@echo ""
	@echo "Serving cxjourney on http://$(HOST):$(PORT)  (Ctrl+C stops it)"
	@# No access log: it would record client IP addresses (personal data).
	$(BIN)/gunicorn --workers $(WORKERS) --threads $(THREADS) --bind $(HOST):$(PORT) \
		"cxjourney:create_app()"

test: $(DEV_STAMP) translations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check cxjourney tests bench tools migrations
	$(BIN)/ruff format --check cxjourney tests bench tools

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix cxjourney tests bench tools
	$(BIN)/ruff format cxjourney tests bench tools

messages: $(DEV_STAMP)
	$(BIN)/pybabel extract --no-location --sort-output -F babel.cfg -k _l -k lazy_gettext -o cxjourney/translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete -i cxjourney/translations/messages.pot -d cxjourney/translations
	$(BIN)/python tools/complete_catalogues.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
