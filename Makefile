# The two commands of README's Quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export SECRET_KEY_FILE ?= $(CURDIR)/var/secret_key

.PHONY: run test bench lint clean keys

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

var/secret_key:
	mkdir -p var
	$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@
	chmod 600 $@

# The credential key a production start requires (HACONTROL_SECRET_KEY_FILE; docker-compose.yml reads
# var/credentials_key), apart from SECRET_KEY: what `manage.py ha new-key` prints.
var/credentials_key: | $(VENV)/.installed
	mkdir -p var
	umask 077 && $(BIN)/python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())" > $@

keys: var/secret_key var/credentials_key

run: $(VENV)/.installed var/secret_key
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py serve

# The suite in parallel processes, then the fault campaign alone (it restarts PostgreSQL).
TEST_PROCESSES ?= 4
test: $(VENV)/.installed-test var/secret_key
	scripts/ensure-system-packages
	DEBUG=0 $(BIN)/pytest -n $(TEST_PROCESSES) -m "not campaign" $(PYTEST_ARGS)
	DEBUG=0 $(BIN)/pytest -m campaign $(PYTEST_ARGS)

bench: $(VENV)/.installed-test var/secret_key
	scripts/ensure-system-packages bench
	$(BIN)/python -m bench $(BENCH_ARGS)

# mypy's Django plugin loads the settings but needs no database: a placeholder URL keeps the
# embedded server from starting. lint-imports forbids import cycles (pyproject.toml's contract).
lint: $(VENV)/.installed-test var/secret_key
	$(BIN)/ruff check hacontrol tests bench
	DATABASE_URL=postgres://lint@localhost/lint $(BIN)/mypy hacontrol
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var
