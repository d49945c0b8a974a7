# refiapp: `make demo` runs the app with its demo lender; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
DEMO_ENV := DEBUG=1 ALLOWED_HOSTS=127.0.0.1,localhost WEBHOOK_ALLOW_PRIVATE_URLS=1 DEMO_CRM_RECEIVER=1

.PHONY: demo test venv lint bench clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: venv
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEMO_ENV) $(BIN)/python manage.py seed_demo
	$(DEMO_ENV) $(BIN)/python manage.py setup_schedules
	@$(DEMO_ENV) BIN=$(BIN) ./scripts/serve_demo.sh

test: venv
	@if [ -x /usr/bin/chromium ]; then \
		echo "Browser tests: running them in /usr/bin/chromium."; \
	else \
		echo "Browser tests: SKIPPED, /usr/bin/chromium is missing (apt-get install -y chromium to run them)."; \
	fi
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
