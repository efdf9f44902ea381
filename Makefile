# Aftercare developer commands. The local stack lives in deploy/devstack (stdlib Python);
# its state, logs and settings go to .devstack/. `make help` lists the targets.

PYTHON ?= python3
DEVSTACK := PYTHONPATH=$(CURDIR)/deploy $(PYTHON) -m devstack
VENV_BIN := .venv/bin
MYPY_PATHS := shared/src services/*/src cli/src tests bench devkit deploy/devstack

# Passed through to pytest / bench/run.py: `make test PYTEST_ARGS="-x -k sla"`.
export PYTEST_ARGS BENCH_ARGS

# `make up REPLICAS=2`: processes per service, on consecutive ports (every stack's setting).
ifdef REPLICAS
export AFTERCARE_REPLICAS := $(REPLICAS)
export AFTERCARE_TEST_REPLICAS := $(REPLICAS)
export AFTERCARE_BENCH_REPLICAS := $(REPLICAS)
endif
# `make up KAFKA_BROKERS=3`: a three-node KRaft cluster (RF 3, min.insync.replicas 2).
ifdef KAFKA_BROKERS
export AFTERCARE_KAFKA_BROKERS := $(KAFKA_BROKERS)
export AFTERCARE_TEST_KAFKA_BROKERS := $(KAFKA_BROKERS)
export AFTERCARE_BENCH_KAFKA_BROKERS := $(KAFKA_BROKERS)
endif

.DEFAULT_GOAL := help
.PHONY: help up infra down restart status ps logs test test-down chaos bench bench-down \
	sync lint fmt clean

help: ## list the targets
	@grep -E '^[a-z -]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

up: ## start Postgres, Kafka and the four services (REPLICAS=n processes each, KAFKA_BROKERS=3 brokers); print URLs and the admin token
	@$(DEVSTACK) up

infra: ## start only Postgres and Kafka of the dev stack (run services yourself)
	@$(DEVSTACK) up --infra-only

down: ## stop the dev stack (services, Kafka, Postgres)
	@$(DEVSTACK) down

restart: ## stop and start the dev stack (picks up code changes)
	@$(DEVSTACK) down
	@$(DEVSTACK) up

status ps: ## show what every stack (dev, test, bench) runs
	@$(DEVSTACK) status

logs: ## follow the dev stack's logs
	@$(DEVSTACK) logs

test: ## run all tests against a test stack of their own (ports 54330/19192)
	@$(DEVSTACK) test

chaos: ## the chaos suite in full (each service, Kafka 60 s, Postgres, a receiver killed under load; prints its table) and the failover test in full
	@AFTERCARE_CHAOS_FULL=1 PYTEST_ARGS="-s tests/reliability/test_chaos.py tests/reliability/test_cluster_failover.py $(PYTEST_ARGS)" $(DEVSTACK) test

test-down: ## stop a test stack kept with AFTERCARE_KEEP_TEST_STACK=1
	@$(DEVSTACK) down --profile test

bench: ## run bench/run.py against a bench stack of its own (ports 54340/19292)
	@$(DEVSTACK) bench

bench-down: ## stop a bench stack kept with AFTERCARE_KEEP_BENCH_STACK=1
	@$(DEVSTACK) down --profile bench

sync: ## install the Python workspace into .venv (uv sync --frozen)
	@$(DEVSTACK) sync

lint: sync ## ruff check, ruff format --check, mypy (strict)
	$(VENV_BIN)/ruff check .
	$(VENV_BIN)/ruff format --check .
	$(VENV_BIN)/mypy $(MYPY_PATHS)

fmt: sync ## format and auto-fix with ruff
	$(VENV_BIN)/ruff format .
	$(VENV_BIN)/ruff check --fix .

clean: ## stop every stack, delete .devstack state and the Postgres data kept outside the checkout (keeps the uv and Kafka jar caches)
	@$(DEVSTACK) clean
