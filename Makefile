# SmartShop Stack. `make up` runs the stack; `make test` passes the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
PYTHON      ?= python3
BIN         := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= false
# ansible-core imports cryptography's DSA for its ssh-agent client, and cryptography warns of DSA's
# deprecation at every ansible command: noise before each run (the stack uses no DSA key)
export PYTHONWARNINGS ?= ignore:DSA is deprecated
REPORTS     := $(CURDIR)/reports
PURGE       ?= 0
, := ,
API_URL     ?= http://127.0.0.1:8000
DURATION    ?= 60
RATE        ?= 20
# The API's operator token (make simulate requests payment outcomes and injects errors with it).
OPERATOR_TOKEN_FILE ?= $(or $(SMARTSHOP_SECRETS_DIR),$(HOME)/.smartshop/secrets)/localhost/api_operator_token
# One run at a time changes the stack from this machine: up, down, backup, restore and rotate-secrets
# hold RUN_LOCK (flock(1): released when the run ends, even when it is killed); a second one says so
# and exits 75 before it touches anything (two runs at once raced to create the same containers).
RUN_LOCK    ?= $(HOME)/.smartshop/run.lock
locked = $(info $(strip $(1)))mkdir -p -m 0700 "$(dir $(RUN_LOCK))" && flock --nonblock --conflict-exit-code 75 "$(RUN_LOCK)" $(1) \
  || { rc=$$?; [ $$rc -ne 75 ] || echo "make $@: another run (up, down, backup, restore or rotate-secrets) is changing \
the stack from this machine (it holds $(RUN_LOCK)); run this again when it has ended" >&2; exit $$rc; }
# Role scenarios in dependency order, then the cross-role scenarios under molecule/.
ROLES       := docker_host images network pki mysql backend frontend exporters prometheus alertmanager grafana \
               simulator registry
SCENARIOS   := $(notdir $(wildcard molecule/*))

.PHONY: bench-login-flood help setup engine images browser mysqldb ssh-client groovy up verify security-check rotate-secrets backup restore fetch-backups down lint unit app-test test test-role test-scenario test-molecule test-drills \
	bench bench-api bench-archive bench-driver soak drills bench-stats bench-simulator bench-scale simulate clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements-dev.txt app/backend/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt 2>&1 \
	  | grep -v "^WARNING: Location" || true
	@$(BIN)/python -c "import ansible, molecule, testinfra, docker, pymysql" \
	  || { echo "setup: the virtualenv is incomplete" >&2; exit 1; }
	@touch $@

# The collections of requirements.yml, linked from the venv's `ansible` package (tools/link_collections.py)
collections/ansible_collections/.linked: requirements.yml $(BIN)/.installed tools/link_collections.py
	@$(BIN)/python tools/link_collections.py
	@touch $@

setup: $(BIN)/.installed collections/ansible_collections/.linked ## Create .venv with the pinned tooling (silent when nothing changed)

# engine is the first step of many targets, run side by side (the Molecule lanes, Jenkins' parallel
# stages): it waits for a run of the stack under way (up to 10 minutes) rather than fail at once
engine: setup ## Install and start the Docker engine on this host (role docker_host)
	@SMARTSHOP_LOCK_WAIT=$${SMARTSHOP_LOCK_WAIT:-600} ansible-playbook playbooks/docker_host.yml

images: engine ## Build or pull the images the application tests and benchmarks use
	@# airgap: built here, never a probe of Docker Hub (the tests talk to this machine only)
	@ansible-playbook playbooks/images.yml -e smartshop_image_source=airgap

groovy: ## Install Debian's groovy (checks the Jenkinsfile's syntax)
	@command -v groovy >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq --no-install-recommends groovy default-jre-headless >/dev/null; }

ssh-client: ## Install Debian's OpenSSH client (Ansible reaches molecule/multi-host's hosts over SSH)
	@command -v ssh >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-client >/dev/null; }

# The API's database driver is Debian's python3-mysqldb (as in its image): linked into .venv for the tests.
mysqldb: setup ## Install Debian's python3-mysqldb and make it importable from .venv (the backend's tests)
	@dpkg -s python3-mysqldb >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-mysqldb >/dev/null; }
	@ln -sfn /usr/lib/python3/dist-packages/MySQLdb "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/MySQLdb"
	@$(BIN)/python -c "import MySQLdb" || { echo "mysqldb: .venv cannot import Debian's MySQLdb" >&2; exit 1; }

browser: ## Install Debian's chromium for the browser tests (never a downloaded browser)
	@command -v chromium >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
	@chromium --version

up: setup ## Provision the whole stack on the local Docker host (site.yml) [ARGS='-e smartshop_image_source=airgap']
	@$(call locked,ansible-playbook site.yml $(ARGS))

verify: setup ## Check the deployed stack: containers healthy, Prometheus targets up, API and console answer
	ansible-playbook playbooks/verify.yml

security-check: setup ## The deployed stack tried as an outsider would (anonymous and hostile requests); one line per check
	python tools/security_check.py

rotate-secrets: setup ## New values for every generated credential while the stack serves (none refused on the way)
	@$(call locked,ansible-playbook playbooks/rotate-secrets.yml --skip-tags images$(,)docker_host$(,)network)

backup: setup ## Back up the running stack (database, Prometheus, credentials), encrypted, into ~/.smartshop/backups
	@$(call locked,ansible-playbook playbooks/backup.yml)

restore: setup ## The stack back from the newest backup (BACKUP=<name> for another; REPLACE=1 over existing data; UNTIL='<UTC time>' up to a moment)
	@$(call locked,ansible-playbook playbooks/restore.yml -e backup_replace=$(if $(filter 1 true yes,$(REPLACE)),true,false) \
	  $(if $(BACKUP),-e backup_name=$(BACKUP)) $(if $(UNTIL),-e "backup_until='$(UNTIL)'"))

fetch-backups: setup ## Bring back into ~/.smartshop/backups the copies of the backups kept on backup_hosts (a lost controller)
	ansible-playbook playbooks/fetch-backups.yml

down: setup ## Remove the stack's containers; PURGE=1 also removes its volumes, networks and configuration (images stay)
	@$(call locked,ansible-playbook playbooks/teardown.yml -e smartshop_purge=$(PURGE))

lint: setup ## yamllint, ansible-lint (production profile), ruff
	yamllint -s .
	ansible-lint --offline
	ruff check .
	ruff format --check .

unit: setup groovy mysqldb ## Unit tests: the repository (tests/) and the backend's (no database)
	@mkdir -p "$(REPORTS)"
	pytest -q -n 2 --dist loadfile --junitxml="$(REPORTS)"/unit.xml -m "not needs_images" tests app/backend/tests/test_unit.py \
	  app/simulator/tests/test_unit.py

# Two at a time, a file per worker (each worker's containers under its own prefix): most of the time
# is spent waiting on containers. The simulator's file, the longest, is handed out first.
app-test: images browser mysqldb ## Application tests: MariaDB integration, granian, fuzzing, browser
	@mkdir -p "$(REPORTS)"
	pytest -q -n 2 --dist loadfile --junitxml="$(REPORTS)"/app.xml \
	  app/simulator/tests $(filter-out app/simulator/tests,$(wildcard app/*/tests)) \
	  tests/test_dashboards.py tests/test_alert_rules.py tests/test_container_engine.py tests/test_bench_cpu.py \
	  tests/test_point_in_time.py tests/test_binlog_archive.py

simulate: setup ## Traffic against the deployed API: make simulate DURATION=60 RATE=50 [API_URL=...]
	@token=(); if [ -f "$(OPERATOR_TOKEN_FILE)" ]; then token=(--operator-token-file "$(OPERATOR_TOKEN_FILE)"); fi; \
	if [ -f "$(OPERATOR_TOKEN_FILE)" ] && grep -q '^\$$ANSIBLE_VAULT;' "$(OPERATOR_TOKEN_FILE)"; then \
	  token=(); export SMARTSHOP_OPERATOR_TOKEN="$$(ansible-vault view "$(OPERATOR_TOKEN_FILE)")"; fi; \
	set -x; PYTHONPATH=app/simulator python -m smartshop_simulator run --host $(API_URL) \
	  --duration $(DURATION) --rate $(RATE) --progress-every 5 "$${token[@]}"

bench: bench-api bench-stats bench-simulator bench-archive ## Every benchmark

BENCH_INVENTORY := bench/inventory/hosts.yml
# extra arguments of the bench stack's converge, e.g. BENCH_ARGS='-e backend_workers=3 -e backend_replicas=1'
BENCH_ARGS ?=
bench-api: images ## Through the published port of a stack site.yml deploys (ceiling, mixed, ratio, CPU per request by part), then one container
	@mkdir -p "$(REPORTS)"
	ansible-playbook -i $(BENCH_INVENTORY) site.yml $(BENCH_ARGS) >"$(REPORTS)"/bench-api-converge.log \
	  || { tail -n 30 "$(REPORTS)"/bench-api-converge.log; exit 1; }
	@rc=0; python bench/bench_api.py mixed --target $(or $(TARGET),both) --url http://127.0.0.1:48000 \
	  --token-file $(HOME)/.smartshop/bench-secrets/localhost/api_operator_token || rc=$$?; \
	  ansible-playbook -i $(BENCH_INVENTORY) playbooks/teardown.yml -e smartshop_purge=1 >/dev/null; \
	  rm -rf $(HOME)/.smartshop/bench-secrets; exit $$rc

DRIVER_VENV := $(VENV)-driver
bench-driver: ## PyMySQL versus mysqlclient (Debian's python3-mysqldb, the API's driver): client CPU per transaction, against `make up`'s MariaDB
	@test -x /usr/bin/python3 && dpkg -s python3-mysqldb python3-venv >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-mysqldb python3-venv >/dev/null; }
	@test -x $(DRIVER_VENV)/bin/python || /usr/bin/python3 -m venv --system-site-packages $(DRIVER_VENV)
	@$(DRIVER_VENV)/bin/pip install --quiet --disable-pip-version-check "$$(grep -i '^pymysql==' requirements-dev.txt)"
	$(DRIVER_VENV)/bin/python bench/bench_driver.py

soak: setup ## The simulator at RATE for DURATION s (default 1800) on `make up`'s stack: unexpected 5xx, memory, table sizes
	DURATION=$(if $(filter command line environment,$(origin DURATION)),$(DURATION),1800) RATE=$(RATE) \
	  API_URL=$(API_URL) python bench/soak.py

drills: setup ## Faults mapped to alerts on `make up`'s stack, production rules (about an hour): each fires its alerts, nothing else, then resolves
	@mkdir -p "$(REPORTS)"
	API_URL=$(API_URL) pytest -q -s -p no:cacheprovider --junitxml="$(REPORTS)"/drills.xml bench/test_alert_drills.py

HOSTS ?= 2 3 4
bench-scale: engine ssh-client ## site.yml's converge and idempotent re-run on HOSTS real hosts (as molecule/multi-host makes them): HOSTS="2 3 4" [STRATEGIES="mitogen_linear linear mitogen_linear:1"]
	python bench/bench_scale.py --hosts $(HOSTS) --strategies $(or $(STRATEGIES),mitogen_linear)

bench-stats: images ## /api/stats latency with ORDERS (default 1,000,000) orders
	python bench/bench_api.py stats

bench-login-flood: setup ## The API's latency on `make up`'s stack alone, then while FLOODERS (4) clients send wrong console logins
	python bench/bench_login_flood.py

bench-simulator: images ## Simulator on one core: max rate, and achieved at 50/200/500 req/s
	python bench/bench_simulator.py

bench-archive: images ## The binary-log archive: its lag after a commit, and what following the server costs it (COMMITS=2000)
	python bench/bench_archive.py

test-role: engine ## Molecule for one role: make test-role ROLE=mysql
	@test -n "$(ROLE)" || { echo "usage: make test-role ROLE=<role>" >&2; exit 2; }
	@test -d roles/$(ROLE)/molecule || { echo "test-role: roles/$(ROLE) has no molecule scenario" >&2; exit 2; }
	@mkdir -p "$(REPORTS)"
	@# molecule keeps each scenario's state (prepared, converged), secrets and fact cache in
	@# ~/.ansible/tmp between runs, and skips a prepare it believes done: every test starts afresh
	cd roles/$(ROLE) && molecule reset --all \
	  && SMARTSHOP_JUNIT_XML="$(REPORTS)"/molecule-$(ROLE).xml molecule test --all

test-scenario: engine ssh-client ## One cross-role scenario: make test-scenario SCENARIO=multi-host
	@test -n "$(SCENARIO)" || { echo "usage: make test-scenario SCENARIO=<$(SCENARIOS)>" >&2; exit 2; }
	@test -d molecule/$(SCENARIO) || { echo "test-scenario: no molecule/$(SCENARIO) (have: $(SCENARIOS))" >&2; exit 2; }
	@mkdir -p "$(REPORTS)"
	@# the whole output goes to the terminal and to reports/molecule-<scenario>.log; on failure, the
	@# failed and unreachable tasks are repeated last (a CI log keeps only its tail)
	@# afresh, as test-role: a stale state once skipped this scenario's prepare (no hosts, converge unreachable)
	molecule reset -s $(SCENARIO)
	set -o pipefail; SMARTSHOP_JUNIT_XML="$(REPORTS)"/molecule-$(SCENARIO).xml molecule test -s $(SCENARIO) 2>&1 \
	  | tee "$(REPORTS)"/molecule-$(SCENARIO).log || { status=$$?; \
	    echo "== $(SCENARIO) failed; its failed and unreachable tasks (whole log: reports/molecule-$(SCENARIO).log):"; \
	    grep -n -B2 -A3 -E 'UNREACHABLE|^fatal:|FAILED!|^E  ' "$(REPORTS)"/molecule-$(SCENARIO).log | tail -n 80; exit $$status; }

test-drills: ## The cross-role scenarios with their drills under load (rotation, restore, rolling update, a host lost; about 45 min)
	SMARTSHOP_DRILLS=1 $(MAKE) --no-print-directory test-scenario SCENARIO=full-stack
	SMARTSHOP_DRILLS=1 $(MAKE) --no-print-directory test-scenario SCENARIO=multi-host

# Role scenarios run MOLECULE_LANES at a time (each its own project, network, ports and credentials;
# most of their time is spent waiting on containers), each one's output in reports/molecule-<role>.log,
# shown when it fails. docker_host runs first, alone: it may start the engine the others use.
MOLECULE_LANES ?= 2

test-molecule: engine ## Every molecule scenario: each role's (two at a time), then molecule/*
	@mkdir -p "$(REPORTS)"
	@start=$$(date +%s); $(MAKE) --no-print-directory test-role ROLE=docker_host; \
	  echo "== molecule docker_host: $$(( $$(date +%s) - start )) s"
	@printf '%s\n' $(filter-out docker_host,$(ROLES)) | xargs -P $(MOLECULE_LANES) -I{} bash -c '\
	  start=$$(date +%s); \
	  if $(MAKE) --no-print-directory test-role ROLE={} > "$(REPORTS)"/molecule-{}.log 2>&1; then \
	    echo "== molecule {}: $$(( $$(date +%s) - start )) s"; \
	  else \
	    tail -n 200 "$(REPORTS)"/molecule-{}.log; echo "== molecule {}: FAILED after $$(( $$(date +%s) - start )) s"; exit 1; \
	  fi'
	@set -e; for scenario in $(SCENARIOS); do \
	  start=$$(date +%s); \
	  $(MAKE) --no-print-directory test-scenario SCENARIO=$$scenario; \
	  echo "== molecule $$scenario: $$(( $$(date +%s) - start )) s"; \
	done

test: lint unit app-test test-molecule ## Lint, unit, application and every molecule scenario

clean: ## Remove the virtualenv and reports
	rm -rf $(VENV) $(DRIVER_VENV) "$(REPORTS)" .pytest_cache .ruff_cache
