# The two set-up commands: `make run` (the app) and `make test` (the whole test suite).
# Each creates .venv and installs the requirements only when they changed (stamp files).
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-app
DEV_STAMP := $(VENV)/.installed-dev
PORT ?= 8501

.PHONY: run dev test lint

run: $(STAMP)
	$(PY) -m streamlit run streamlit_app.py --server.address localhost --server.port $(PORT)

# For editing the app: rerun on save. A polling watcher stats only the app's own modules (never .venv/,
# data/ or cache/); `run` has no watcher at all (.streamlit/config.toml).
dev: $(STAMP)
	$(PY) -m streamlit run streamlit_app.py --server.address localhost --server.port $(PORT) \
		--server.fileWatcherType poll --server.runOnSave true

test: $(DEV_STAMP)
	$(PY) -m pytest

lint: $(DEV_STAMP)
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

$(PY):
	python3 -m venv $(VENV)

$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements-dev.txt $(STAMP)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@
