GO ?= go
PKGS := ./...
TEST_FLAGS ?= -count=1 -timeout 30m

.PHONY: run build generate check-generate migration migration-hash vet policy-fmt policy-check policy-test test fuzz ci bench clean

## run: start the service on the embedded SQLite database (no setup needed)
run:
	$(GO) run ./cmd/orgraph serve

build:
	$(GO) build -o bin/orgraph ./cmd/orgraph

## generate: ent codegen (writes graph/ent.graphql), then gqlgen
generate:
	$(GO) run -mod=mod ./ent/entc.go
	$(GO) tool gqlgen generate

## check-generate: fails when generated code is not what `make generate` writes
check-generate: generate
	@git diff --exit-code -- ent graph gqlgen.yml go.mod go.sum || (echo "generated code is stale: run make generate" && exit 1)
	@test -z "$$(git status --porcelain -- ent graph)" || (git status --porcelain -- ent graph && echo "untracked generated files" && exit 1)

## migration: after a change to ent/schema, regenerate ent and write the next versioned
## PostgreSQL migration (ent/migrate/migrations, with atlas.sum) from the difference, e.g.
## `make migration NAME=add_org_labels`; it uses a scratch database on $$ORGRAPH_TEST_PG
## (default postgres://postgres@127.0.0.1:5432/postgres), created and dropped
migration:
	@test -n "$(NAME)" || { echo "usage: make migration NAME=add_something"; exit 1; }
	$(MAKE) generate
	$(GO) run ./ent/migrate/gen $(NAME)

## migration-hash: rewrite ent/migrate/migrations/atlas.sum after editing a new migration by hand
migration-hash:
	$(GO) run ./ent/migrate/gen -hash

vet:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go') && echo "gofmt needed" && exit 1)

policy-fmt:
	$(GO) tool opa fmt --v1-compatible -w policy/rego

## policy-check: opa fmt (no diff), opa check --strict against the input schema, opa test with coverage >= 90%
policy-check:
	@test -z "$$($(GO) tool opa fmt --v1-compatible -l policy/rego)" || ($(GO) tool opa fmt --v1-compatible -l policy/rego && echo "run make policy-fmt" && exit 1)
	$(GO) tool opa check --strict --v1-compatible --schema policy/input.schema.json policy/rego
	$(GO) run ./cmd/orgraph policy test --min-coverage 90

## test: the whole suite (Go unit, integration on SQLite and PostgreSQL, end-to-end over HTTP, Rego),
## with the race detector: RACE_PKGS run entirely under it; internal/e2e runs without it, then
## its tests matching RACE_E2E (concurrent requests, the policy watcher, shared limiters) run
## again under it. All of e2e under -race takes about 11 minutes on 2 cores: RACE_E2E=. for that.
RACE_PKGS := ./policy/ ./internal/gate/ ./internal/service/
RACE_E2E ?= ^(TestDeleteAccountConcurrentOwners|TestConcurrentRegistrationSharesOnePerson|TestLastOwnerUnderConcurrency|TestLimits|TestPolicyHotReload|TestRateLimit.*|TestDeniedAuditIsBoundedPerCaller)$$
test: policy-check
	$(GO) test $(TEST_FLAGS) $$($(GO) list $(PKGS) | grep -v -x $(foreach p,$(RACE_PKGS),-e '.*/$(patsubst ./%/,%,$(p))'))
	$(GO) test -race $(TEST_FLAGS) $(RACE_PKGS)
	$(GO) test -race $(TEST_FLAGS) -run '$(RACE_E2E)' ./internal/e2e/

## fuzz: each fuzz target for FUZZTIME (go test -fuzz; their seed corpora, testdata/fuzz and
## the f.Add seeds, also run as ordinary tests in `make test`). A failing input is written to
## the package's testdata/fuzz/<target>/: commit it with the fix, as a regression test.
FUZZTIME ?= 10s
FUZZ_TARGETS := \
	./internal/service:FuzzNormalizeHandle \
	./internal/service:FuzzSlug \
	./internal/service:FuzzAlias \
	./internal/auth:FuzzAuthenticate \
	./internal/e2e:FuzzCursor \
	./internal/e2e:FuzzRequest \
	./internal/e2e:FuzzOrganizationWhere
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t##*:} ($${t%%:*}) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t##*:}$$" -fuzztime $(FUZZTIME) $${t%%:*}; \
	done

## ci: what .ci/run runs
ci: check-generate vet test

## bench: Go benchmarks (policy engine; nested tree, tenant list, deep check and gate
## overhead over HTTP on SQLite and PostgreSQL, which is skipped when unreachable;
## ORGRAPH_BENCH_LARGE=1 adds 100 000 orgs), then the HTTP load script (scripts/load.sh)
BENCH ?= .
BENCH_FLAGS ?= -benchmem -count=1 -timeout 60m
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' $(BENCH_FLAGS) ./policy/ ./internal/bench/
	GO='$(GO)' ./scripts/load.sh

clean:
	rm -rf bin orgraph.db orgraph.db-shm orgraph.db-wal
