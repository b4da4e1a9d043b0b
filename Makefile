# Everything a newcomer needs; see README.md.
SHELL := /bin/bash

.PHONY: run test stop release
run:  ## install what is missing, start Postgres, build and serve at http://127.0.0.1:3000
	@scripts/run.sh
test: ## install what is missing and run every test layer
	@scripts/test.sh
stop: ## stop the project-local Postgres
	@scripts/pg.sh stop
release: ## optimised build: target/site (wasm-opt'd bundle) and the release server binary
	@scripts/release.sh
