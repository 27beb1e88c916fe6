# The two commands a newcomer needs: `make run` (the panel on the embedded default, with a demo
# cluster on the PVE simulator) and `make test` (the whole test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint check install clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Other ports when the defaults are taken: make run ADDR=127.0.0.1:8001 SIM_PORT=8007
ADDR ?= 127.0.0.1:8000
SIM_PORT ?= 8006

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py rundemo --addr $(ADDR) --sim-port $(SIM_PORT)

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=config.settings.production DJANGO_SECRET_KEY=check-deploy-$$(date +%s)-a-long-random-string-for-the-check \
	  DJANGO_ALLOWED_HOSTS=panel.example.com FIELD_ENCRYPTION_KEYS=$$($(BIN)/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	  DATABASE_URL=sqlite:///:memory: CELERY_BROKER_URL=redis://127.0.0.1:6379/0 CACHE_URL=rediscache://127.0.0.1:6379/1 \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING

check: lint test

clean:
	rm -rf $(VENV) var staticfiles

# The benchmark table (docs/benchmarks.md): the panel against two anchor clients on the simulator.
bench: $(STAMP)
	$(BIN)/python bench/run.py
