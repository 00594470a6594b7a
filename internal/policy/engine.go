package policy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
)

var _ Evaluator = (*Engine)(nil)

// Options configure an Engine.
type Options struct {
	// FS is the policy set to load (see the layout described in load.go);
	// New requires it. policies.FS() is the built-in set.
	FS fs.FS
	// Source describes FS in Status, e.g. "embedded" or a directory.
	Source string
	// Logger receives load and reload logs; nil discards them.
	Logger *slog.Logger
	// SkipTests skips running the set's own Rego tests when New loads it
	// (the built-in set is tested by go test and need not be tested at every
	// start). Reloads always run them.
	SkipTests bool
	// OnReload, when set, is called after every reload attempt (Reload,
	// Watch) with its outcome, so the caller can count reloads and audit
	// them. It is not called for the load done by New or LoadDir. It runs on
	// the reloading goroutine and must not call Reload.
	OnReload func(ReloadEvent)
	// Workers, when set, runs Evaluate's evaluations (see Workers); nil:
	// each runs on its caller's goroutine.
	Workers *Workers
}

// ReloadEvent is the outcome of one reload attempt.
type ReloadEvent struct {
	// Source is where the candidate set came from.
	Source string
	// Revision is the candidate set's revision ("" when it could not be read).
	Revision string
	// Previous is the revision served before the attempt (and still served
	// when Err is set).
	Previous string
	// Tests is the number of the candidate's Rego tests that passed.
	Tests int
	// Err is why the candidate was rejected; nil when it was accepted.
	Err error
}

// Engine evaluates the admission policy with a prepared OPA query. A policy
// set is compiled once; Evaluate only evaluates. Reloads swap the prepared
// set atomically, so they never block evaluation.
type Engine struct {
	logger   *slog.Logger
	onReload func(ReloadEvent)
	// encode converts an Input to the AST input value.
	encode  func(*Input) (ast.Value, error)
	workers *Workers

	current atomic.Pointer[prepared]

	// loadMu serialises reloads.
	loadMu sync.Mutex
	// mu guards lastError; it is never held while a set is built, so Status
	// does not wait for a reload.
	mu        sync.Mutex
	lastError string
}

// prepared is a compiled policy set ready for evaluation.
type prepared struct {
	query rego.PreparedEvalQuery
	// promotion is nil when the set defines no promotion assessment.
	promotion *rego.PreparedEvalQuery
	revision  string
	source    string
	loadedAt  time.Time
}

// New loads, compiles and (unless opts.SkipTests) tests the policy set in
// opts.FS and returns an engine serving it.
func New(ctx context.Context, opts Options) (*Engine, error) {
	if opts.FS == nil {
		return nil, errors.New("policy: Options.FS is required")
	}
	e := newEngine(opts)
	source := opts.Source
	if source == "" {
		source = "fs"
	}
	p, _, err := e.build(ctx, opts.FS, source, !opts.SkipTests)
	if err != nil {
		return nil, fmt.Errorf("policy: load %s: %w", source, err)
	}
	e.current.Store(p)
	e.logger.Info("policy set loaded", "source", source, "revision", p.revision)
	return e, nil
}

func newEngine(opts Options) *Engine {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Engine{logger: logger, onReload: opts.OnReload, encode: newInputEncoder(), workers: opts.Workers}
}

// Evaluate evaluates the policy for in. An undefined or malformed decision
// document is an error: a policy that forgets its decision must not read as
// allow.
func (e *Engine) Evaluate(ctx context.Context, in Input) (Result, error) {
	p := e.current.Load()
	if p == nil {
		return Result{}, errors.New("policy: no policy set loaded")
	}
	v, err := e.encode(&in)
	if err != nil {
		return Result{}, fmt.Errorf("policy: input: %w", err)
	}
	var res Result
	e.workers.run(func() { res, err = p.evaluate(ctx, v) })
	return res, err
}

// evaluate evaluates the prepared set for the input value v.
func (p *prepared) evaluate(ctx context.Context, v ast.Value) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("policy: evaluate: %w", err)
	}
	// Cancel evaluation when ctx ends, without the goroutine per evaluation
	// rego starts when it is left to watch ctx itself.
	cancel := topdown.NewCancel()
	stop := context.AfterFunc(ctx, cancel.Cancel)
	defer stop()
	rs, err := p.query.Eval(ctx,
		rego.EvalParsedInput(v),
		rego.EvalMetrics(metrics.NoOp()),
		rego.EvalExternalCancel(cancel),
		rawResult(),
	)
	if err != nil {
		return Result{}, fmt.Errorf("policy: evaluate %s: %w", p.revision, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return Result{}, fmt.Errorf("policy: %s is undefined in revision %s", Query, p.revision)
	}
	d, err := decodeDecision(rs[0].Expressions[0].Value)
	if err != nil {
		return Result{}, fmt.Errorf("policy: revision %s: %w", p.revision, err)
	}
	return Result{Decision: d, Revision: p.revision}, nil
}

// Status reports the served set and the last reload error.
func (e *Engine) Status() Status {
	lastError := e.getLastError()
	s := Status{LastError: lastError}
	if p := e.current.Load(); p != nil {
		s.Ready = true
		s.Revision = p.revision
		s.Source = p.source
		s.LoadedAt = p.loadedAt
	}
	return s
}

func (e *Engine) getLastError() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastError
}

func (e *Engine) setLastError(msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lastError = msg
}

// Revision returns the revision of the served set.
func (e *Engine) Revision() string {
	if p := e.current.Load(); p != nil {
		return p.revision
	}
	return ""
}

// build loads, compiles and checks the set in fsys; with runTests, its Rego
// tests must also pass. It returns the prepared set and the number of tests
// passed; on error the revision is still set when the files were read.
func (e *Engine) build(ctx context.Context, fsys fs.FS, source string, runTests bool) (*prepared, int, error) {
	files, err := readSet(fsys)
	if err != nil {
		return nil, 0, err
	}
	set, err := parseSet(files)
	if err != nil {
		return &prepared{revision: revisionOf(files)}, 0, err
	}
	p, err := compileSet(ctx, set, source, e.encode)
	if err != nil {
		return &prepared{revision: set.revision}, 0, err
	}
	passed := 0
	if runTests && len(set.tests) > 0 {
		sum, err := runSetTests(ctx, set, io.Discard, false)
		if err != nil {
			return &prepared{revision: set.revision}, 0, err
		}
		if len(sum.failed) > 0 {
			return &prepared{revision: set.revision}, sum.passed, fmt.Errorf("%d of %d Rego tests failed: %s",
				len(sum.failed), sum.passed+len(sum.failed), joinLimited(sum.failed, 10))
		}
		passed = sum.passed
	}
	return p, passed, nil
}

// compileSet compiles the runtime modules of set against its data and
// prepares the decision query. It then evaluates one smoke input so a set
// whose decision is undefined or malformed is caught before it serves.
func compileSet(ctx context.Context, set *policySet, source string, encode func(*Input) (ast.Value, error)) (*prepared, error) {
	store := newStore(set)
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	defer store.Abort(ctx, txn)

	compiler := ast.NewCompiler().
		WithPathConflictsCheck(storage.NonEmpty(ctx, store, txn))
	if compiler.Compile(set.modules); compiler.Failed() {
		return nil, fmt.Errorf("compile: %w", compiler.Errors)
	}
	if len(compiler.GetRules(ast.MustParseRef(Query))) == 0 {
		return nil, fmt.Errorf("no rule defines %s", Query)
	}
	query, err := rego.New(
		rego.Query(Query),
		rego.Compiler(compiler),
		rego.Store(store),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", Query, err)
	}
	p := &prepared{query: query, revision: set.revision, source: source, loadedAt: time.Now().UTC()}
	if len(compiler.GetRules(ast.MustParseRef(PromotionQuery))) > 0 {
		pq, err := rego.New(rego.Query(PromotionQuery), rego.Compiler(compiler), rego.Store(store)).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("prepare %s: %w", PromotionQuery, err)
		}
		p.promotion = &pq
	}
	smoke := smokeInput()
	v, err := encode(&smoke)
	if err != nil {
		return nil, fmt.Errorf("smoke input: %w", err)
	}
	if _, err := p.evaluate(ctx, v); err != nil {
		return nil, fmt.Errorf("smoke evaluation: %w", err)
	}
	return p, nil
}

// newStore returns an in-memory store holding set.data at data.agentgate.
func newStore(set *policySet) storage.Store {
	return inmem.NewFromObjectWithOpts(map[string]any{DataRoot: set.data},
		inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
}

// smokeInput is a human's build: every policy must decide it.
func smokeInput() Input {
	in := Input{Now: "2000-01-01T00:00:00Z"}
	in.Event.Provider = "generic"
	in.Event.Kind = "build"
	in.Event.Principal = "generic:agentgate-policy-check"
	return in
}

// joinLimited joins up to limit names and says how many more there are.
func joinLimited(names []string, limit int) string {
	if len(names) <= limit {
		return fmt.Sprint(names)
	}
	return fmt.Sprintf("%v and %d more", names[:limit], len(names)-limit)
}
