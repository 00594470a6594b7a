# agentgate developer targets. `make test` is the one command that runs every
# test (it is what CI runs); `make run` starts the service on its embedded
# defaults (SQLite in ./data, the built-in policies).

GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 10s
BENCHTIME ?= 2s
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(shell $(GO) env GOPATH)/bin/staticcheck)
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)

IMAGE     ?= agentgate:$(VERSION)

.PHONY: image all build run test test-short bypass lint fmt vet staticcheck bench bench-p1 fuzz policy-test clean

all: lint test

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/admission ./cmd/admission

run:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/admission serve

# The container image (Dockerfile) with docker, podman or buildah, whichever
# is present: make image IMAGE=registry.example.com/agentgate:1.2.3
image:
	@if command -v docker >/dev/null 2>&1; then docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) . ; \
	elif command -v podman >/dev/null 2>&1; then podman build --build-arg VERSION=$(VERSION) -t $(IMAGE) . ; \
	elif command -v buildah >/dev/null 2>&1; then buildah bud --build-arg VERSION=$(VERSION) -t $(IMAGE) . ; \
	else echo "make image needs docker, podman or buildah" >&2; exit 1; fi

# Every test, race detector on, against SQLite and the PostgreSQL at
# AGENTGATE_TEST_POSTGRES_DSN (default postgres://postgres@127.0.0.1:5432/test).
# With CI=true a missing PostgreSQL fails the run instead of skipping. The
# first run builds a kube-apiserver for the cluster tests (minutes; cached
# under ~/.cache/agentgate-test), hence the longer timeout.
test:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

# The bypass suite: every known way around the gate, each a test that must
# fail to get through (docs/security.md). Also part of `make test`.
bypass:
	$(GO) test -race -count=1 -run TestBypass $(PKGS)

test-short:
	$(GO) test -count=1 $(PKGS)

lint: fmt vet staticcheck

fmt:
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

staticcheck:
	@test -x "$(STATICCHECK)" || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$(STATICCHECK) $(PKGS)

# In-process decision pipeline and store benchmarks (see docs/benchmarks.md).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./internal/gate/... ./internal/store/... ./internal/policy/...

# agentgate against a bare OPA server on the same policy, side by side
# (docs/benchmarks.md); needs PostgreSQL unless P1FLAGS='-pg ""'.
bench-p1:
	$(GO) run ./bench/p1 $(P1FLAGS)

# Run every native fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

policy-test:
	$(GO) run ./cmd/admission policy test policies

clean:
	rm -rf bin data
