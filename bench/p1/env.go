package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/event"
	"github.com/agentgate/agentgate/internal/policy"
)

const (
	opaName     = "opa"
	opaLogsName = "opa-decision-logs"
	benchSecret = "p1-generic-secret-0123456789"
	benchToken  = "p1-admin-token-0123456789abcdef"
)

// environment is the servers of a run and the targets that load them.
type environment struct {
	procs   []*process
	targets []*target
	cleanup []func()
}

func (e *environment) close() {
	for _, p := range e.procs {
		p.stop()
	}
	for _, f := range e.cleanup {
		f()
	}
}

// setup builds and starts OPA and the agentgates and provisions agents.
func setup(ctx context.Context, o options, dir string) (env *environment, err error) {
	env = &environment{}
	defer func() {
		if err != nil {
			env.close()
		}
	}()
	bundle, err := policyDir(filepath.Join(dir, "policy"))
	if err != nil {
		return nil, err
	}
	if err := opaDir(filepath.Join(dir, "opa"), bundle); err != nil {
		return nil, err
	}
	fmt.Printf("policy revision %s (built-in, builds_per_hour of trusted coding agents raised to %d)\n", bundle.Revision, buildsPerHour)
	opaBin, err := goInstall(ctx, o.cache, "github.com/open-policy-agent/opa", o.opaVersion, "opa")
	if err != nil {
		return nil, err
	}
	agBin, err := buildAgentgate(ctx, dir)
	if err != nil {
		return nil, err
	}

	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	opa, err := start(ctx, dir, opaName, "http://"+addr, "/health", nil, opaBin,
		"run", "--server", "--addr", addr, "--log-level", "error", filepath.Join(dir, "opa"))
	if err != nil {
		return nil, err
	}
	env.procs = append(env.procs, opa)
	opas := []*process{opa}
	if o.opaLogs {
		// What a user who needs a record of every decision would run
		// instead: OPA's console decision logger, one JSON line per
		// decision to its log file (written, not fsynced, not chained).
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		logged, err := start(ctx, dir, opaLogsName, "http://"+addr, "/health", nil, opaBin,
			"run", "--server", "--addr", addr, "--log-level", "error", "--set", "decision_logs.console=true", filepath.Join(dir, "opa"))
		if err != nil {
			return nil, err
		}
		env.procs = append(env.procs, logged)
		opas = append(opas, logged)
	}

	webhookPaths, err := paths(o.paths, o.agents)
	if err != nil {
		return nil, err
	}
	stores := []struct{ name, driver, dsn string }{{name: "agentgate-sqlite", driver: "sqlite"}}
	if o.pg != "" {
		dsn, drop, err := pgSchema(ctx, o.pg)
		if err != nil {
			return nil, err
		}
		env.cleanup = append(env.cleanup, drop)
		if o.pgDelay > 0 {
			delayed, proxy, err := throughDelay(dsn, o.pgDelay)
			if err != nil {
				return nil, err
			}
			env.cleanup = append(env.cleanup, proxy.close)
			dsn = delayed
			rtt, err := roundTrip(ctx, delayed)
			if err != nil {
				return nil, err
			}
			fmt.Printf("agentgate reaches PostgreSQL through a proxy adding %s each way: a statement's round trip is %s (median of 50 SELECT 1)\n", o.pgDelay, rtt.Round(10*time.Microsecond))
		}
		stores = append(stores, struct{ name, driver, dsn string }{name: "agentgate-postgres", driver: "postgres", dsn: dsn})
	}
	client := &http.Client{Timeout: 30 * time.Second}
	var records []agents.Agent
	var agTargets []*target
	for _, st := range stores {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		vars := []string{"ADMISSION_SERVER_LISTEN=" + addr, "ADMISSION_DATA_DIR=" + filepath.Join(dir, st.name),
			"ADMISSION_POLICY_DIR=" + filepath.Join(dir, "policy"), "ADMISSION_WEBHOOKS_GENERIC_SECRET=" + benchSecret,
			"ADMISSION_AUTH_BOOTSTRAP_TOKEN=" + benchToken, "ADMISSION_LOG_LEVEL=warn", "ADMISSION_STORE_DRIVER=" + st.driver,
			"ADMISSION_WEBHOOKS_GITHUB_SECRET=" + githubSecret}
		if st.dsn != "" {
			vars = append(vars, "ADMISSION_STORE_POSTGRES_DSN="+st.dsn)
		}
		if o.gogc > 0 {
			vars = append(vars, fmt.Sprintf("GOGC=%d", o.gogc))
		}
		p, err := start(ctx, dir, st.name, "http://"+addr, "/readyz", vars, agBin, "serve")
		if err != nil {
			return nil, err
		}
		env.procs = append(env.procs, p)
		recs, err := provision(ctx, client, p.url, o.agents)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", st.name, err)
		}
		if records == nil {
			records = recs
		}
		for _, wp := range webhookPaths {
			agTargets = append(agTargets, webhookTarget(st.name, p, wp))
		}
	}
	for _, wp := range webhookPaths {
		inputs, err := opaInputs(ctx, filepath.Join(dir, "policy"), records, wp)
		if err != nil {
			return nil, fmt.Errorf("%s path: %w", wp.name, err)
		}
		for _, p := range opas {
			env.targets = append(env.targets, opaTarget(p, wp.name, inputs))
		}
		fmt.Printf("%s path: %s bodies of %d bytes, OPA inputs of %d bytes\n", wp.name, wp.name, wp.size, len(inputs[0]))
	}
	env.targets = append(env.targets, agTargets...)
	return env, nil
}

func agentName(i int) string { return fmt.Sprintf("bench-%d", i) }

func buildBody(i int64, agentsN int) []byte {
	b, _ := json.Marshal(map[string]any{"kind": "build", "action": "requested", "repo": "acme/api",
		"sha": fmt.Sprintf("%040x", i), "principal": "github:" + agentName(int(i)%agentsN) + "[bot]",
		"trigger": map[string]any{"prompt": "benchmark", "source": "p1"}})
	return b
}

// provision creates the trusted coding agents and returns their records.
func provision(ctx context.Context, c *http.Client, url string, n int) ([]agents.Agent, error) {
	out := make([]agents.Agent, 0, n)
	for i := 0; i < n; i++ {
		spec := map[string]any{"name": agentName(i), "type": "coding", "owner": "bench@example.com", "tier": "trusted",
			"capabilities": []string{"build", "workflow"}, "environments": []string{"staging"}, "namespaces": []string{argoNamespace},
			"labels":     map[string]string{"argo.service_accounts": argoServiceAccount},
			"principals": []string{githubPrincipal(i), argoPrincipal(i)}}
		body, err := post(ctx, c, url+"/api/v1/agents", benchToken, spec, http.StatusCreated)
		if err != nil {
			return nil, fmt.Errorf("provision: %w", err)
		}
		var created struct {
			Agent agents.Agent `json:"agent"`
		}
		if err := json.Unmarshal(body, &created); err != nil || created.Agent.ID == "" {
			return nil, fmt.Errorf("provision: unexpected answer %.200s", body)
		}
		out = append(out, created.Agent)
	}
	return out, nil
}

// webhookTarget sends path's deliveries to p, one build each, spread over
// the agents.
func webhookTarget(name string, p *process, wp *webhookPath) *target {
	run := time.Now().UnixNano()
	return &target{name: name, path: wp.name, proc: p, allowed: wp.allowed,
		request: func(ctx context.Context, i int64) (*http.Request, error) {
			return wp.request(ctx, p.url, run, i)
		}}
}

// opaInputs builds, for every agent, the policy input agentgate builds for
// one of its builds on path wp (parsed by the path's provider, normalized,
// the agent's record, its quota usage), and checks that agentgate's own
// engine allows it on the same policy copy.
func opaInputs(ctx context.Context, policyDir string, records []agents.Agent, wp *webhookPath) ([][]byte, error) {
	engine, err := policy.LoadDir(ctx, policyDir, policy.Options{})
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(records))
	for i := range records {
		ev, err := wp.event(ctx, int64(i))
		if err != nil {
			return nil, fmt.Errorf("parse the benchmark's event: %w", err)
		}
		ev.Normalize()
		ev.Principal, ev.Initiator = ev.CanonicalPrincipal(), ev.CanonicalInitiator()
		usage := map[string]policy.Usage{"builds_per_hour": {Used: 1, Limit: buildsPerHour}}
		if ev.Kind == event.KindWorkflow {
			usage["concurrent_workflows"] = policy.Usage{Used: 1, Limit: buildsPerHour}
		}
		in := policy.Input{Event: ev, Agent: &records[i], Now: time.Now().UTC().Format(time.RFC3339Nano), Usage: usage}
		res, err := engine.Evaluate(ctx, in)
		if err != nil || !res.Decision.Allow {
			return nil, fmt.Errorf("agentgate's engine does not allow the benchmark's input (%v): %+v", err, res.Decision.Deny)
		}
		b, err := json.Marshal(map[string]any{"input": in})
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// opaTarget asks OPA's Data API for the decision document.
func opaTarget(p *process, path string, inputs [][]byte) *target {
	return &target{name: p.name, path: path, proc: p, allowed: opaAllowed,
		request: func(ctx context.Context, i int64) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/v1/data/"+dataPath(policy.Query), bytes.NewReader(inputs[int(i)%len(inputs)]))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/json")
			return req, nil
		}}
}

// dataPath turns data.a.b.c into a/b/c.
func dataPath(query string) string {
	b := []byte(query[len("data."):])
	for i := range b {
		if b[i] == '.' {
			b[i] = '/'
		}
	}
	return string(b)
}
