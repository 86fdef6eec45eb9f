# The verbs of the project. Every target sets up what it needs on a fresh machine
# (Python 3.11+ and make only): .venv with the pinned, hash-checked dependencies.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
API_PORT ?= 3000
AWS_PORT ?= 5000
# axe-core for the accessibility checks of the browser test: the npm package, pinned by its integrity.
AXE_VERSION := 4.14.1
AXE_INTEGRITY := sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==

.PHONY: axe smoke redrive bench bench-env bench-load browser schema setup run demo test test-unit test-integration test-e2e lint ruff mypy cfn-lint validate format lock deploy clean ci

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==25.3"

# The stamp is rebuilt whenever the lock file or the package metadata changes.
$(VENV)/.installed: requirements/dev.txt shared/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e shared/
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/python -m infrastructure.local run --api-port $(API_PORT) --aws-port $(AWS_PORT)

demo: setup
	$(BIN)/python -m infrastructure.local demo --api-port $(API_PORT) --aws-port $(AWS_PORT)

# The suite on every core (pytest-xdist; TEST_WORKERS, 3 by default), then the checks of the AWS
# calls it recorded (tests/__main__.py). A plain `pytest` runs the same tests in one process.
test: setup browser axe
	$(BIN)/python -m tests

# Debian's Chromium and ChromeDriver, for the browser test of the applicant form. Installed with
# apt when this runs as root on Debian (as CI does); elsewhere it says what to install, and the
# browser test is skipped (it fails instead when CI is set).
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's chromium and chromium-driver for the browser test"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null \
	  || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	       chromium chromium-driver >/dev/null; }; \
	else echo "make browser: install Debian's chromium and chromium-driver to run the browser test"; fi

# axe-core's axe.min.js into build/axe (fetched with npm, checked against AXE_INTEGRITY). Without npm
# it says what to install, and the accessibility checks are skipped (they fail instead when CI is set).
axe: setup
	@if command -v npm >/dev/null 2>&1; then $(BIN)/python -m infrastructure.fetch_axe $(AXE_VERSION) $(AXE_INTEGRITY) >/dev/null; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null \
	  && $(BIN)/python -m infrastructure.fetch_axe $(AXE_VERSION) $(AXE_INTEGRITY) >/dev/null; \
	else echo "make axe: install npm to run the accessibility checks"; fi

test-unit: setup
	$(BIN)/python -m pytest -m unit

test-integration: setup
	$(BIN)/python -m pytest -m integration

test-e2e: setup browser axe
	$(BIN)/python -m pytest -m e2e

lint: ruff mypy cfn-lint

ruff: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

mypy: setup
	$(BIN)/mypy shared/mentoring functions infrastructure bench

# cfn-lint on the SAM template as written, then on the template as aws-sam-translator expands it.
cfn-lint validate: setup
	$(BIN)/cfn-lint template.yaml -a cfn_lint_serverless.rules
	$(BIN)/python -m infrastructure.expand_template template.yaml build/template.expanded.json
	$(BIN)/cfn-lint build/template.expanded.json -a cfn_lint_serverless.rules

# Moves a dead-letter queue's messages back to their queue: QUEUE is a logical id or a URL.
# Locally (make run's moto server) by default; STACK=<name> for a deployed stack.
redrive: setup
	@test -n "$(QUEUE)" || { echo "usage: make redrive QUEUE=IntakeDeadLetterQueue [STACK=<stack name>]"; exit 2; }
	$(BIN)/python -m infrastructure.redrive $(QUEUE) \
	  $(if $(STACK),--stack-name $(STACK),--endpoint-url http://127.0.0.1:$(AWS_PORT))

# Speed and memory, measured (never in a timed test); results in bench/RESULTS.md: import times,
# the engine against scipy and OR-Tools, the matching step at 4,000-50,000 mentees, and the
# deadline run on the local stack. The load run (LOAD_SUBMISSIONS through the local API, then the
# deadlines, about 25 minutes on 2 cores) is make bench-load. DEADLINE_APPLICANTS=20000 is the
# national run (about an hour on 2 cores, most of it moto sending the emails; README, Known limits).
LOAD_SUBMISSIONS ?= 10000
DEADLINE_APPLICANTS ?= 2000
bench: setup bench-env
	$(BIN)/python -m bench.imports
	$(BIN)/python -m bench.matching
	$(BIN)/python -m bench.cohort_matching
	$(BIN)/python -m bench.deadline --applicants $(DEADLINE_APPLICANTS)

# A benchmark-only virtualenv with OR-Tools (bench/requirements-env.txt); not a project dependency.
BENCH_ENV := build/bench-env
$(BENCH_ENV)/.installed: bench/requirements-env.txt
	$(PYTHON) -m venv $(BENCH_ENV)
	$(BENCH_ENV)/bin/python -m pip install --quiet --require-hashes -r bench/requirements-env.txt
	touch $@

bench-env: $(BENCH_ENV)/.installed

# The load run alone.
bench-load: setup
	$(BIN)/python -m bench.load --submissions $(LOAD_SUBMISSIONS)

# Regenerates the JSON Schema that editors use for scheme definition files, and the README's
# account of where each scheme's rules and figures come from.
schema: setup
	$(BIN)/python -m mentoring.scheme > shared/mentoring/schemes/scheme.schema.json
	$(BIN)/python -m mentoring.scheme --readme README.md

# Regenerates the lock files from pyproject.toml (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements/dev.txt
	uv pip compile shared/pyproject.toml --python-version 3.12 --python-platform aarch64-manylinux_2_28 \
	  --generate-hashes -o shared/requirements.txt
	uv pip compile layers/solver/requirements.in --python-version 3.12 --python-platform aarch64-manylinux_2_28 \
	  --generate-hashes -o layers/solver/requirements.txt
	uv pip compile layers/console/requirements.in --python-version 3.12 --python-platform aarch64-manylinux_2_28 \
	  --generate-hashes -c requirements/dev.txt -o layers/console/requirements.txt
	uv pip compile bench/requirements-env.in --python-version 3.11 --generate-hashes -o bench/requirements-env.txt

deploy:
	sam build && sam deploy --guided

# After sam deploy: the README's journey against the deployed API (a cohort with a two-minute
# deadline, both doors, the match, the dead-letter queues), then cleans up. Needs AWS credentials.
smoke: setup
	@test -n "$(STACK)" || { echo "usage: make smoke STACK=<stack name> [REGION=...] [PROFILE=...]"; exit 2; }
	$(BIN)/python -m infrastructure.smoke --stack-name $(STACK) \
	  $(if $(REGION),--region $(REGION)) $(if $(PROFILE),--profile $(PROFILE))

ci: lint test

clean:
	rm -rf $(VENV) build outbox .aws-sam .pytest_cache .mypy_cache .ruff_cache
