# One command to run the system, one to test everything. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

BACKEND_VENV := backend/.venv
AI_VENV := ai-server/.venv

.PHONY: help install run stop status test test-backend test-standins test-ai test-react test-e2e check-deploy lint fmt env schema migrations bench backup restore restore-drill models

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# --- installation (idempotent; re-runs only when a requirements file changes) -----------------------
$(BACKEND_VENV)/.installed: backend/requirements.txt backend/requirements-dev.txt backend/requirements.lock backend/requirements-dev.lock
	scripts/services.sh install
	test -x $(BACKEND_VENV)/bin/python || python3 -m venv $(BACKEND_VENV)
	$(BACKEND_VENV)/bin/pip install -q --upgrade pip
	$(BACKEND_VENV)/bin/pip install -q --require-hashes -r backend/requirements-dev.lock
	touch $@

$(AI_VENV)/.installed: ai-server/requirements.txt ai-server/requirements-dev.txt ai-server/requirements.lock ai-server/requirements-dev.lock ai-server/pyproject.toml
	test -x $(AI_VENV)/bin/python || python3 -m venv $(AI_VENV)
	$(AI_VENV)/bin/pip install -q --upgrade pip
	$(AI_VENV)/bin/pip install -q --require-hashes -r ai-server/requirements-dev.lock
	$(AI_VENV)/bin/pip install -q --no-deps --no-build-isolation -e ai-server
	touch $@

react/node_modules/.installed: react/package.json react/package-lock.json
	cd react && npm ci --no-audit --no-fund
	touch $@

# The API's translations (backend/locale/*/LC_MESSAGES/django.po), compiled by GNU msgfmt (scripts/services.sh
# installs gettext with the other Debian packages); the .mo files are build output, never committed.
BACKEND_MO := $(patsubst %.po,%.mo,$(wildcard backend/locale/*/LC_MESSAGES/django.po))
backend/locale/%.mo: backend/locale/%.po | $(BACKEND_VENV)/.installed
	msgfmt --check -o $@ $<

install: $(BACKEND_VENV)/.installed $(AI_VENV)/.installed react/node_modules/.installed $(BACKEND_MO) ## install Debian packages, virtual environments, npm packages

env: ## create .env with random secrets (never overwrites)
	scripts/env.sh

# --- the two commands ------------------------------------------------------------------------------
run: install ## start the whole system with demo data; prints the URL and logins
	scripts/run.sh

stop: ## stop what make run started
	scripts/stop.sh

status: ## state of each server and of each process of the local run (supervisorctl status)
	scripts/services.sh status
	scripts/ctl.sh status

test: install ## every test suite (backend, stand-ins, ai-server, end-to-end, deploy config) against real servers
	scripts/test.sh

test-backend: install ## backend suite only
	scripts/test.sh backend

test-standins: install ## the stand-ins' suite only (standins/: HAPI FHIR and OpenEMR stand-ins)
	scripts/test.sh standins

test-ai: install ## ai-server suite only
	scripts/test.sh ai-server

test-react: install ## web UI suite only (type check, unit tests, production build)
	scripts/test.sh react

test-e2e: install ## end-to-end suite only (starts the stack through nginx)
	scripts/test.sh e2e

check-deploy: install ## validate compose files, nginx config, workflows, monitoring config
	scripts/test.sh deploy

# --- operations (docs/runbooks/) ----------------------------------------------------------------------
backup: install ## back up the database (and with ARGS=--objects the buckets) to var/backups and object storage
	scripts/env.sh
	backup/backup.sh $(ARGS)

restore: install ## restore a backup: make restore ARGS="--latest" (asks first; see backup/restore.sh --help)
	scripts/env.sh
	backup/restore.sh $(ARGS)

restore-drill: install ## restore the newest backup into a scratch database and bucket, verify it, print RTO and RPO
	scripts/env.sh
	backup/restore_drill.sh $(ARGS)

# --- developer habits -------------------------------------------------------------------------------
lint: install ## ruff lint + format check, import rules (lint-imports), migrations and the OpenAPI schema in step with the code
	scripts/test.sh lint

fmt: install ## apply ruff fixes and formatting
	$(BACKEND_VENV)/bin/ruff check --fix .
	$(BACKEND_VENV)/bin/ruff format .

migrations: install ## create migrations for model changes
	scripts/env.sh
	cd backend && .venv/bin/python manage.py makemigrations

schema: install ## write the OpenAPI schema (backend/openapi.yaml) and the web UI's types generated from it
	scripts/env.sh
	cd backend && .venv/bin/python manage.py spectacular --file openapi.yaml --validate
	cd react && npm run schema

bench: install ## benchmarks (each prints a ratio against a baseline measured in the same run)
	scripts/env.sh
	scripts/services.sh up
	cd backend && .venv/bin/python benchmarks/audit_overhead.py
	cd backend && .venv/bin/python benchmarks/audit_scale.py  # 10 million audit events: over an hour on the 2-core machine
	cd backend && .venv/bin/python benchmarks/patient_list_latency.py
	cd backend && .venv/bin/python benchmarks/emr_refresh.py
	cd backend && .venv/bin/python benchmarks/fhir_sync_throughput.py
	cd backend && .venv/bin/python benchmarks/upload_throughput.py
	cd ai-server && .venv/bin/python benchmarks/mri_job.py
	scripts/run.sh >/dev/null  # the next one measures the running stack through nginx (make stop stops it)
	cd backend && .venv/bin/python benchmarks/cds_hooks_latency.py
	cd backend && .venv/bin/python benchmarks/notification_latency.py
	cd backend && .venv/bin/python benchmarks/slow_uploads.py
	cd backend && .venv/bin/python benchmarks/rule_trigger_latency.py
	cd backend && .venv/bin/python benchmarks/dicomweb_gateway.py
	cd backend && .venv/bin/python benchmarks/viewer_load.py  # a 4 x 150-slice MR exam opened in Chromium
	cd backend && .venv/bin/python benchmarks/soak.py --minutes $${SOAK_MINUTES:-30}  # 30 minutes of mixed load

models: $(AI_VENV)/.installed ## retrain every shipped AI model (ai-server/training) and check its metrics against its card
	$(AI_VENV)/bin/pip install -q -r ai-server/requirements-training.txt
	cd ai-server && .venv/bin/python training/train_omics_cox.py --check
	cd ai-server && .venv/bin/python training/train_mri_demo.py --check
