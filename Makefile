# Parley: the two commands a newcomer needs are `make run` and `make test`.
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
# Packages whose concurrency the race detector must check.
RACE_PKGS ?= ./internal/room/... ./internal/operator/... ./internal/retention/... ./internal/signal/... ./internal/sfu/... ./internal/server/... ./internal/telemetry/... ./internal/privacy/consent/... ./internal/im/... ./internal/imgw/... ./internal/webhook/... ./sdk/go/... ./test/...

.PHONY: run test race lint bench build fuzz web-deps

run:
	$(GO) run ./cmd/parley serve

# The browser tests need test/web/node_modules (playwright-core) and
# Debian's chromium; `make test` installs the former when npm is there.
test: web-deps
	$(GO) test ./...

web-deps:
	@if [ ! -d test/web/node_modules/playwright-core ] && command -v npm >/dev/null; then npm --prefix test/web ci --no-audit --no-fund --loglevel=error; fi

race:
	$(GO) test -race $(RACE_PKGS)

build:
	CGO_ENABLED=0 $(GO) build -o parley ./cmd/parley

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

bench:
	$(GO) run ./cmd/parley bench sfu --spawn --publishers 1 --subscribers 50 --duration 30s --json

# A short run of every fuzz target (CI runs each for FUZZTIME). A target
# that fails is run once more: Go's fuzz coordinator can end a loaded run
# with "context deadline exceeded" and no input (golang/go#75804), while a
# real crash is saved under testdata/fuzz and fails the second run too.
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$t"; \
	    $(GO) test -run XXX -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || \
	    { echo "fuzz $$pkg $$t: failed, running once more"; $(GO) test -run XXX -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; } || exit 1; \
	  done; \
	done
