# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

CONSOLE_SOURCES := $(shell find console/src -type f 2>/dev/null) console/index.html console/vite.config.ts \
	console/tsconfig.json console/package.json console/package-lock.json
STACK ?= segments

.PHONY: run test lint unit bench schemas fuzz clean chromium deploy-console

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## The whole service on the embedded local stack (moto server + API front door), http://127.0.0.1:3000
run: $(STAMP) console/dist/index.html
	$(BIN)/python -m infra.localstack $(ARGS)

## Lint, cfn-lint the template (source and SAM-translated), then every test.
test: $(STAMP) lint console/dist/index.html chromium
	$(BIN)/python -m pytest -n 2 $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m infra.lint_template template.yaml

## Performance figures side by side; writes docs/benchmarks.md (ARGS=--quick for a one-minute run).
bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

## schemathesis against a fresh local stack: all phases incl. stateful, fixed seeds, bounded examples
## (ARGS="--seeds 3 4 --max-examples 50"); fails on any 5xx or answer the OpenAPI document does not describe.
fuzz: $(STAMP)
	$(BIN)/python -m tests.e2e.fuzz $(ARGS)

## Regenerate the language-neutral contracts in shared/ (rule JSON Schema, OpenAPI, sample events).
schemas: $(STAMP)
	$(BIN)/python -m audience.rules.schema shared/schemas/rule.schema.json
	$(BIN)/python -m functions.api.openapi_dump shared/openapi.json

## The web console (console/): rebuilt when its sources or lockfile change.
console/dist/index.html: $(CONSOLE_SOURCES)
	cd console && npm ci --no-audit --no-fund && npm run build
	touch $@

## The browser tests drive Debian's Chromium (never a downloaded browser build).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y chromium; \
	  else echo "error: the browser tests need Debian's 'chromium' package: sudo apt-get install -y chromium" >&2; exit 1; fi; }

## Upload console/dist to the deployed stack's bucket (STACK=segments); CloudFront serves it.
deploy-console: $(STAMP) console/dist/index.html
	$(BIN)/python -m infra.deploy_console --stack $(STACK)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
