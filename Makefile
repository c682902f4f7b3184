# The two commands a fresh machine needs: `make dev` (the whole stack, no containers)
# and `make test` (the whole suite on real Postgres, Tansu and HTTP). Both install what
# is missing first: uv (pinned), then the locked dependencies.

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(PYTHON) -m uv

.PHONY: setup dev test lint format bench bench-pipeline bench-ingest bench-alerting bench-alerting-stages bench-cases bench-compare triage-eval schemas

setup:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	@$(UV) sync --frozen --quiet

dev: setup  ## SeaweedFS, Tansu, Postgres (local or embedded), migrations, the services (five and the outbox relay)
	$(UV) run python -m libs.embedded $(ARGS)

test: setup  ## the whole suite; starts its own Tansu and finds or starts Postgres
	$(UV) run pytest $(ARGS)

lint: setup
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy libs services bench tests

format: setup
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

bench: bench-pipeline bench-ingest bench-alerting  ## all benchmarks; figures in docs/benchmarks.md

bench-pipeline: setup  ## ../shared/data over HTTP through ingest and alerting into cases
	$(UV) run python -m bench.pipeline $(ARGS)

bench-ingest: setup  ## HTTP batches of 1, 100, 1,000 and detections.raw.v1 into ingest
	$(UV) run python -m bench.ingest $(ARGS)

bench-alerting: setup  ## one alerting process: backlog detections/s and paced latency
	$(UV) run python -m bench.alerting $(ARGS)

bench-alerting-stages: setup  ## alerting's own CPU per detection, in-process on real Postgres (no broker)
	$(UV) run python -m bench.alerting_stages $(ARGS)

bench-cases: setup  ## cases API at 10k and 1M cases (--large-cases/--large-alerts to shrink)
	$(UV) run python -m bench.cases_api $(ARGS)

bench-compare: setup  ## a benchmark in turns from a baseline revision and this tree: ARGS="--baseline <rev>"
	$(UV) run python -m bench.compare $(ARGS)

triage-eval: setup  ## score candidate alerting policies' cases against the corpus' incidents
	$(UV) run python -m bench.triage_eval $(ARGS)

schemas: setup  ## rewrite the contract snapshots after a compatible change
	$(UV) run python -m libs.common.contracts
