# Relais. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

# .python-version (3.10) makes pyenv's shims resolve this.
PYTHON ?= $(shell command -v python3.10 || command -v python)
VENV := .venv
BIN := $(VENV)/bin
MODEL := models/relais.tar.gz
# The crisis example in use: RELAIS_PACK from the environment, else from .env.
PACK := $(or $(RELAIS_PACK),$(shell sed -n 's/^RELAIS_PACK=//p' .env 2>/dev/null | tail -1 | tr -d '"'),packs/dairy-recall)
PACK := $(patsubst %/,%,$(PACK))
OTHER_PACKS := $(filter-out $(PACK),$(patsubst %/,%,$(wildcard packs/*/)))
# What `rasa train` reads: data/ serves every crisis, then the pack's own data.
TRAINING_DATA = data $(1)/faq $(wildcard $(1)/nlu)
# The model is retrained when another pack is selected.
PACK_STAMP := models/.pack
$(shell mkdir -p models; test "$$(cat $(PACK_STAMP) 2>/dev/null)" = "$(PACK)" || echo "$(PACK)" > $(PACK_STAMP))
TRAINING_INPUTS := config.yml domain.yml $(PACK_STAMP) $(shell find data $(PACK)/faq $(wildcard $(PACK)/nlu) -name '*.yml' 2>/dev/null)
# The gate's calibration is read when a model is trained.
PACKAGE_FILES := $(shell find bot actions -name '*.py' 2>/dev/null) bot/nlu/calibration.json
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
# Rasa's dependencies warn about their own deprecations on every start.
export PYTHONWARNINGS := ignore::DeprecationWarning

.PHONY: help dotenv install report-printer train validate run run-scaled shell test test-fast test-unit test-stories lint format bench-nlu bench-queue bench-console bench-live-answers bench-channel-send bench-publish bench-coldstart bench-thirdparty bench-encoder-cost calibrate-gate bench-surge bench-corrections bench-team bench-insights clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else "Relais needs Python 3.10 (Rasa 3.6 supports 3.8-3.10); found " + sys.version.split()[0])'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip<25"
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	$(BIN)/pip check
	touch $@

install: $(BIN)/.installed node_modules/.installed ## create .venv and node_modules from the lock files (only when missing or changed)

# The web chat's socket.io client, served from node_modules (never a CDN).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Debian's Chromium prints the post-crisis report to PDF (relais report) and
# runs the browser tests (Playwright's own download does not work here);
# needs root or sudo.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	$(SUDO) apt-get install -y chromium || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

# make run tries to install it, and starts without it if it cannot (the PDF
# report then says how to install it; HTML reports work).
report-printer:
	@test -x $(CHROMIUM) || $(SUDO) apt-get install -y chromium || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; } || echo "Chromium could not be installed: relais report --format pdf will not work (HTML will)."

# poppler-utils: the tests turn the report's PDF pages into pictures.
PDFTOPPM := /usr/bin/pdftoppm
$(PDFTOPPM):
	$(SUDO) apt-get install -y poppler-utils || { $(SUDO) apt-get update && $(SUDO) apt-get install -y poppler-utils; }

# Debian's nginx in front of the scaled-out deployment (make run-scaled and
# its end-to-end test); Relais runs its own instance, never the system's.
NGINX := /usr/sbin/nginx
$(NGINX):
	$(SUDO) apt-get install -y nginx || { $(SUDO) apt-get update && $(SUDO) apt-get install -y nginx; }

# Configuration lives in .env, read by bot/settings.py and by honcho; the
# first run creates it from .env.example, and every run gives each secret
# still missing or on .env.example's public placeholder a random value.
dotenv:
	@test -f .env || { cp .env.example .env && echo "Created .env from .env.example."; }
	@set -e; for name in RASA_TOKEN RELAIS_CONSOLE_SECRET RELAIS_ACTIONS_SECRET; do \
	  value=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(48))'); \
	  if ! grep -q "^$$name=" .env; then \
	    echo "$$name=$$value" >> .env; echo "Added a random $$name to .env."; \
	  elif grep -q "^$$name=change-me$$" .env; then \
	    sed -i "s/^$$name=change-me$$/$$name=$$value/" .env; \
	    echo "Set a random $$name in .env (it held .env.example's public placeholder)."; \
	  fi; \
	done

validate: install ## check the FAQ pack (relais faq lint) and the training data
	$(BIN)/relais faq lint --dir $(PACK)/faq
	$(BIN)/rasa data validate --fail-on-warnings --data $(call TRAINING_DATA,$(PACK))

# make skips the call entirely while the model is newer than every input;
# `relais train` then copies the model trained from exactly the same inputs
# (config, domain, training files, the NLU components' code, library versions)
# from models/cache/ when there is one, and otherwise lints, validates and
# trains (`relais train --force` always trains).
$(MODEL): $(BIN)/.installed $(TRAINING_INPUTS) $(PACKAGE_FILES)
	$(BIN)/relais train --pack $(PACK) --out $(MODEL)
	echo "$(PACK)" > models/relais.pack
	touch $@

train: $(MODEL) ## train the model of the selected pack (RELAIS_PACK) if data, config or components changed

# The other shipped packs get their own model, for their conversation tests.
.SECONDEXPANSION:
models/pack-%.tar.gz: $(BIN)/.installed config.yml domain.yml $(shell find data -name '*.yml') $$(shell find packs/$$*/faq packs/$$*/nlu -name '*.yml' 2>/dev/null) $(PACKAGE_FILES)
	$(BIN)/relais train --pack packs/$* --out $@
	touch $@
OTHER_MODELS := $(foreach pack,$(OTHER_PACKS),models/pack-$(notdir $(pack)).tar.gz)

# The model is trained only when there is none, or when it was trained for
# another pack (RELAIS_PACK changed): otherwise the live model changes through
# `relais publish`, which checks a new one against it first (a restart never
# puts an unchecked model live).
run: $(BIN)/.installed node_modules/.installed report-printer dotenv ## start Relais (Rasa + action server + console) on embedded defaults; Ctrl-C stops all
	@test -f $(MODEL) && test "$$(cat models/relais.pack 2>/dev/null || echo $(PACK))" = "$(PACK)" || $(MAKE) --no-print-directory train
	@mkdir -p var
	@$(BIN)/relais config check
	@$(BIN)/relais db upgrade
	@echo
	@echo "Relais is starting (the model takes about 30 seconds to load)."
	@echo "  Talk to it over REST:  curl -s localhost:5005/webhooks/rest/webhook -d '{\"sender\":\"me\",\"message\":\"Quels lots sont concernés par le rappel ?\"}'"
	@echo "  socket.io channel:     http://127.0.0.1:5005/socket.io"
	@echo "  HTTP API (token from .env): http://127.0.0.1:5005/status?token=..."
	@echo "  Web chat (the public):       http://127.0.0.1:$${RELAIS_CONSOLE_PORT:-8000}/chat"
	@echo "  Console (community managers): http://127.0.0.1:$${RELAIS_CONSOLE_PORT:-8000}/   accounts: .venv/bin/relais agent add NAME"
	@echo "  Handoff queue in a terminal:  .venv/bin/relais queue list"
	@echo "  New topics or examples:       .venv/bin/relais publish   (answers are live without it)"
	@echo
	$(BIN)/honcho start -f Procfile -e .env

# Two Rasa processes and two action servers behind nginx, on this machine's
# PostgreSQL, Redis and RabbitMQ (scaled.env, endpoints.scaled.yml,
# Procfile.scaled; docs/deployment.md).
run-scaled: $(BIN)/.installed node_modules/.installed dotenv $(NGINX) ## start Relais scaled out: 2 Rasa + 2 action servers behind nginx, PostgreSQL, Redis, RabbitMQ
	@test -f $(MODEL) && test "$$(cat models/relais.pack 2>/dev/null || echo $(PACK))" = "$(PACK)" || $(MAKE) --no-print-directory train
	@mkdir -p var
	@$(BIN)/honcho run -e .env,scaled.env $(BIN)/relais config check --endpoints endpoints.scaled.yml
	@$(BIN)/honcho run -e .env,scaled.env $(BIN)/relais db upgrade
	@echo
	@echo "Relais is starting scaled out (two models load side by side: about a minute)."
	@echo "  Web chat (the public):       http://127.0.0.1:8080/chat"
	@echo "  Console (community managers): http://127.0.0.1:8080/   accounts: .venv/bin/honcho run -e .env,scaled.env .venv/bin/relais agent add NAME"
	@echo "  REST:  curl -s localhost:8080/webhooks/rest/webhook -d '{\"sender\":\"me\",\"message\":\"Quels lots sont concernés par le rappel ?\"}'"
	@echo
	$(BIN)/honcho start -f Procfile.scaled -e .env,scaled.env

shell: $(MODEL) dotenv ## talk to the bot in this terminal (starts its own action server)
	@mkdir -p var
	@$(BIN)/relais config check
	@$(BIN)/relais db upgrade
	@$(BIN)/relais actions --port 5055 > var/actions-shell.log 2>&1 & pid=$$!; \
	  trap "kill $$pid 2>/dev/null" EXIT; \
	  $(BIN)/honcho run -e .env $(BIN)/rasa shell --model $(MODEL) --endpoints endpoints.yml

# Both cores: each test module goes whole to one of two workers, so the
# servers a module starts start once (tests/servers.py gives each its own
# ports, folders, databases and queues). Modules go out in collection order,
# the longest first (tests/conftest.py), not xdist's "most tests first".
PYTEST := $(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder
# When make started: make test ends with the time it took in all.
STARTED := $(shell date +%s)

test-fast: install ## the edit-run loop: every test that needs no model and no server, in under 2 minutes
	$(PYTEST) -m "not e2e and not slow" -q

test-unit: test-fast

# Each pack's conversation tests (packs/*/tests/stories.yml), on its own model.
test-stories: $(MODEL) $(OTHER_MODELS) ## conversation tests of every shipped pack
	$(BIN)/rasa test core --model $(MODEL) --stories $(PACK)/tests/stories.yml --fail-on-prediction-errors --out var/test-results/$(notdir $(PACK))
	@set -e; for pack in $(OTHER_PACKS); do \
	  echo "Conversation tests of $$pack"; \
	  $(BIN)/rasa test core --model models/pack-$$(basename $$pack).tar.gz --stories $$pack/tests/stories.yml --fail-on-prediction-errors --out var/test-results/$$(basename $$pack); \
	done

# The packs' lint, validation and conversation tests run inside pytest
# (tests/test_shipped_packs.py), beside the rest.
test: $(MODEL) $(OTHER_MODELS) node_modules/.installed $(CHROMIUM) $(PDFTOPPM) $(NGINX) lint ## install, lint, train if needed (once per distinct inputs), then run every test
	@$(PYTEST) --durations=15 --durations-min=1; status=$$?; \
	  echo "make test: $$(( $$(date +%s) - $(STARTED) )) s in all (install, training, lint and tests)"; \
	  exit $$status

lint: install ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench-nlu: install ## held-out evaluation of the selected pack: Relais vs Rasa's default pipeline
	$(BIN)/python scripts/bench_nlu.py --pack $(notdir $(PACK))

bench-queue: $(MODEL) ## handoff queue: 20 agents claiming 2,000 tickets on PostgreSQL, and latencies
	$(BIN)/python scripts/bench_queue.py

bench-console: install ## console: queue page and live updates with 1,000 waiting tickets
	$(BIN)/python scripts/bench_console.py

bench-live-answers: install ## editor saves an answer -> both action servers send the new text
	$(BIN)/python scripts/bench_live_answers.py

bench-channel-send: install ## answers to a provider: one connection pool per process vs a connection per message
	$(BIN)/python scripts/bench_channel_send.py

bench-publish: $(MODEL) ## editor adds a topic -> publish (train, gate, swap) -> answered, people talking meanwhile
	$(BIN)/python scripts/bench_publish.py

bench-coldstart: install ## every shipped pack at hour one (1, 3, 8, all examples; Relais vs Rasa's default), then a simulated crisis day
	$(BIN)/python scripts/bench_coldstart.py

bench-thirdparty: install ## FAQ matching on ../shared/dev-data's sets and the shipped packs at 1, 2, 3, 8 phrasings: ranking, calibrated gate (left out), whole NLU vs Rasa's default (about an hour; ARGS=--no-rasa: 7 minutes)
	cd scripts && ../$(BIN)/python bench_thirdparty.py $(ARGS)

bench-encoder-cost: $(MODEL) ## what the sentence encoder costs a Rasa process: parse time, load time, memory, with it and without it (2 minutes)
	$(BIN)/python scripts/bench_encoder_cost.py

calibrate-gate: install ## recompute bot/nlu/calibration.json, the gate's limits per phrasings per topic, from ../shared/dev-data and the shipped packs (about 15 minutes)
	cd scripts && ../$(BIN)/python calibrate_gate.py

bench-surge: $(MODEL) ## people writing at once (1, 10, 50, open loop, overload): Relais vs a stock `rasa init` bot (about 20 minutes)
	$(BIN)/python scripts/bench_surge.py $(ARGS)

bench-team: install ## response targets and auto-assignment with 2,000 open conversations and 20 agents on PostgreSQL (a minute)
	$(BIN)/python scripts/bench_team.py

bench-corrections: install ## a correction to 10,000 people across channels: sends per second under the providers' limits, the job's memory (about 10 minutes)
	$(BIN)/python scripts/bench_corrections.py

bench-insights: install ## crisis figures with one million events: overview, gap clustering of 50,000 messages, report (about 10 minutes)
	$(BIN)/python scripts/bench_insights.py

clean: ## remove generated files (models, var/), keep .venv and .env
	rm -rf models var results .pytest_cache .mypy_cache .ruff_cache node_modules
