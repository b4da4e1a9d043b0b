# Everything a newcomer needs; see README.md.
SHELL := /bin/bash

.PHONY: run test stop watch release bench reseal sqlx
run:  ## install what is missing, start Postgres, build and serve at http://localhost:3000 (demo accounts and /previews on)
	@scripts/run.sh
test: ## install what is missing and run every test layer
	@scripts/test.sh
stop: ## stop the project-local Postgres, the local sign-in provider and the local mail catcher
	@scripts/pg.sh stop
	@scripts/idp.sh stop
	@scripts/mail.sh stop
watch: ## like make run, but rebuilds and reloads on every change (cargo leptos watch; installs cargo-leptos on first use, ~31 min)
	@scripts/watch.sh
release: ## optimised build: target/site (wasm-opt'd bundle) and the release server binary
	@scripts/release.sh
bench: ## every performance goal of issue 17 as a ratio in one run: target/bench/report.md + chart.svg, README block; fails over the wasm budget (BENCH_SECONDS=10)
	@scripts/bench.sh
sqlx: ## after changing a query or a migration: rewrite the query data in .sqlx/ (commit it); make test fails while it is stale
	@scripts/sqlx-prepare.sh
reseal: ## re-encrypt every stored TOTP secret under the first key of GATEHOUSE_SECRETS_TOTP_KEYS (key rotation)
	@scripts/reseal.sh
