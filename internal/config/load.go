package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/secret"

	"gopkg.in/yaml.v3"
)

// EnvPrefix prefixes every environment override: server.listen is
// ADMISSION_SERVER_LISTEN, webhooks.generic.secret is
// ADMISSION_WEBHOOKS_GENERIC_SECRET. A secret's override may also name a
// file: ADMISSION_WEBHOOKS_GENERIC_SECRET_FILE.
const EnvPrefix = "ADMISSION_"

// Load reads the YAML file at path (none if empty), applies environment
// overrides from env (os.LookupEnv in production), and validates.
func Load(path string, env func(string) (string, bool)) (Config, error) {
	cfg := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), "", env); err != nil {
		return Config{}, err
	}
	if cfg.Store.SQLite.Path == "" {
		cfg.Store.SQLite.Path = filepath.Join(cfg.DataDir, "agentgate.db")
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	secretType   = reflect.TypeOf(Secret{})
)

// applyEnv walks the struct by yaml tags and overrides scalar fields from
// ADMISSION_<PATH>. Lists of strings take comma-separated values; lists of
// structs (auth.tokens) are file-only.
func applyEnv(v reflect.Value, key string, env func(string) (string, bool)) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		k := tag
		if key != "" {
			k = key + "." + tag
		}
		fv := v.Field(i)
		name := EnvPrefix + strings.ToUpper(strings.ReplaceAll(k, ".", "_"))
		switch {
		case f.Type == secretType:
			if ref := fv.Interface().(Secret).EnvRef(); ref != "" {
				val, ok := env(ref)
				if !ok {
					return fmt.Errorf("config: %s: environment variable %s is not set", k, ref)
				}
				fv.Set(reflect.ValueOf(NewSecret(val, "env "+ref)))
			}
			if val, ok := env(name); ok {
				fv.Set(reflect.ValueOf(NewSecret(val, "env "+name)))
			}
			if file, ok := env(name + "_FILE"); ok {
				s, err := secret.FromFile(file)
				if err != nil {
					return fmt.Errorf("config: %s_FILE: %w", name, err)
				}
				fv.Set(reflect.ValueOf(s))
			}
		case f.Type.Kind() == reflect.Struct:
			if err := applyEnv(fv, k, env); err != nil {
				return err
			}
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			// Lists of structs are file-only, but their secrets may
			// still reference the environment ({env: NAME}).
			for j := 0; j < fv.Len(); j++ {
				if err := applyEnv(fv.Index(j), fmt.Sprintf("%s[%d]", k, j), env); err != nil {
					return err
				}
			}
		default:
			val, ok := env(name)
			if !ok {
				continue
			}
			if err := setScalar(fv, val); err != nil {
				return fmt.Errorf("config: %s (%s): %w", name, k, err)
			}
		}
	}
	return nil
}

func setScalar(fv reflect.Value, val string) error {
	switch {
	case fv.Type() == durationType:
		d, err := time.ParseDuration(val)
		if err != nil {
			return err
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.String:
		fv.SetString(val)
	case fv.Kind() == reflect.Int || fv.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return err
		}
		fv.SetInt(n)
	case fv.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return err
		}
		fv.SetFloat(f)
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
		var parts []string
		for _, p := range strings.Split(val, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		fv.Set(reflect.ValueOf(parts))
	case fv.Kind() == reflect.Map && fv.Type().Key().Kind() == reflect.String && fv.Type().Elem().Kind() == reflect.String:
		// key=value,key=value
		m := map[string]string{}
		for _, p := range strings.Split(val, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			k, v, ok := strings.Cut(p, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return fmt.Errorf("want key=value pairs separated by commas, got %q", p)
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		fv.Set(reflect.ValueOf(m))
	default:
		return fmt.Errorf("cannot be set from the environment; use the config file")
	}
	return nil
}

// Validate checks every field; the error names the bad key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Server.Listen == "" {
		bad("server.listen", "is required, e.g. 127.0.0.1:8080")
	}
	if c.Console.SessionTTL <= 0 {
		bad("console.session_ttl", "must be positive, got %s", c.Console.SessionTTL)
	}
	if k := c.Console.SessionKey; k.IsSet() && len(k.Reveal()) < 32 {
		bad("console.session_key", "must be at least 32 characters")
	}
	if o := c.Console.OIDC; o.Issuer != "" || o.ClientID != "" || len(o.Roles) > 0 {
		validateOIDC(o, section(bad, "console.oidc."))
	}
	if c.Policy.InputRetention < time.Hour {
		bad("policy.input_retention", "must be at least 1h, got %s", c.Policy.InputRetention)
	}
	switch c.Promotion.Mode {
	case "off", "confirm", "auto":
	default:
		bad("promotion.mode", "must be off, confirm or auto, got %q", c.Promotion.Mode)
	}
	if c.Promotion.Interval < time.Minute {
		bad("promotion.interval", "must be at least 1m, got %s", c.Promotion.Interval)
	}
	if c.Promotion.Window < 24*time.Hour {
		bad("promotion.window", "must be at least 24h, got %s", c.Promotion.Window)
	}
	if c.Server.DebugListen != "" {
		if err := loopbackAddr(c.Server.DebugListen); err != nil {
			bad("server.debug_listen", "%s", err)
		}
	}
	if (c.Server.TLSCertFile == "") != (c.Server.TLSKeyFile == "") {
		bad("server.tls_cert_file", "server.tls_cert_file and server.tls_key_file go together")
	}
	if c.Server.MaxBodyBytes <= 0 || c.Server.MaxBodyBytes > 64<<20 {
		bad("server.max_body_bytes", "must be between 1 and 67108864, got %d", c.Server.MaxBodyBytes)
	}
	if c.Server.MaxDecisionsInFlight < 1 || c.Server.MaxDecisionsInFlight > 65536 {
		bad("server.max_decisions_in_flight", "must be between 1 and 65536, got %d", c.Server.MaxDecisionsInFlight)
	}
	if c.Server.MaxDecisionsQueued < 0 || c.Server.MaxDecisionsQueued > 1<<20 {
		bad("server.max_decisions_queued", "must be between 0 and 1048576, got %d", c.Server.MaxDecisionsQueued)
	}
	if c.Server.HealthListen != "" {
		if _, _, err := net.SplitHostPort(c.Server.HealthListen); err != nil {
			bad("server.health_listen", "must be host:port, got %q", c.Server.HealthListen)
		} else if c.Server.HealthListen == c.Server.Listen || c.Server.HealthListen == c.Server.DebugListen {
			bad("server.health_listen", "must differ from server.listen and server.debug_listen")
		}
	}
	if c.Server.MaxConnections < 0 || c.Server.MaxConnections > 1<<20 {
		bad("server.max_connections", "must be between 0 (no bound) and 1048576, got %d", c.Server.MaxConnections)
	}
	for key, d := range map[string]time.Duration{
		"server.read_timeout": c.Server.ReadTimeout, "server.write_timeout": c.Server.WriteTimeout, "server.idle_timeout": c.Server.IdleTimeout,
		"server.request_timeout": c.Server.RequestTimeout, "server.shutdown_timeout": c.Server.ShutdownTimeout,
		"policy.reload_interval": c.Policy.ReloadInterval, "webhooks.delivery_ttl": c.Webhooks.DeliveryTTL,
		"auth.agent_token_grace": c.Auth.AgentTokenGrace,
	} {
		if d <= 0 {
			bad(key, "must be a positive duration such as 10s, got %s", d)
		}
	}
	switch c.Store.Driver {
	case "sqlite":
		if c.Store.SQLite.Path == "" {
			bad("store.sqlite.path", "is required")
		}
		if s := c.Store.SQLite.Synchronous; s != "full" && s != "normal" {
			bad("store.sqlite.synchronous", "must be full or normal, got %q", s)
		}
		if d := c.Store.SQLite.BusyTimeout; d <= 0 {
			bad("store.sqlite.busy_timeout", "must be a positive duration such as 10s, got %s", d)
		}
	case "postgres":
		if !c.Store.Postgres.DSN.IsSet() {
			bad("store.postgres.dsn", "is required when store.driver is postgres")
		}
		if c.Store.Postgres.MaxConns <= 0 {
			bad("store.postgres.max_conns", "must be positive")
		}
		if !c.Auth.BootstrapToken.IsSet() && len(c.Auth.Tokens) == 0 {
			bad("auth.bootstrap_token", "is required with postgres (replicas cannot share a generated token); set ADMISSION_AUTH_BOOTSTRAP_TOKEN or auth.tokens")
		}
	default:
		bad("store.driver", "must be sqlite or postgres, got %q", c.Store.Driver)
	}
	names := map[string]bool{}
	for i, t := range c.Auth.Tokens {
		key := fmt.Sprintf("auth.tokens[%d]", i)
		if t.Name == "" {
			bad(key+".name", "is required")
		}
		if names[t.Name] {
			bad(key+".name", "%q is used twice", t.Name)
		}
		names[t.Name] = true
		if t.Role.Rank() < 1 {
			bad(key+".role", "must be viewer, operator or admin, got %q", t.Role)
		}
		if len(t.Token.Reveal()) < 16 {
			bad(key+".token", "must be at least 16 characters")
		}
	}
	if s := c.Auth.BootstrapToken; s.IsSet() && len(s.Reveal()) < 16 {
		bad("auth.bootstrap_token", "must be at least 16 characters")
	}
	// Each provider validates its own sections.
	c.GitHub.Validate(section(bad, "github."))
	c.GitLab.Validate(section(bad, "gitlab."))
	c.Argo.Validate(section(bad, "argo."))
	if r := c.Rollback; r.PrometheusURL != "" {
		if r.Query == "" {
			bad("rollback.query", "is required with rollback.prometheus_url")
		}
		if r.Threshold <= 0 && r.BaselineFactor <= 0 {
			bad("rollback.threshold", "set rollback.threshold or rollback.baseline_factor (or both)")
		}
		if r.TripAfter < 1 || r.Interval <= 0 || r.Window < r.Interval {
			bad("rollback.trip_after", "trip_after must be at least 1 and window at least one interval")
		}
		if r.Interval > 0 && r.Interval < time.Second {
			bad("rollback.interval", "must be at least 1s (watches are read at most once a second), got %s", r.Interval)
		}
		if r.IncidentWindow < time.Second {
			bad("rollback.incident_window", "must be a duration of at least 1s such as 30m, got %s", r.IncidentWindow)
		}
	}
	switch c.Rollback.GitHubMode {
	case "rerun", "dispatch":
	default:
		bad("rollback.github_mode", "must be rerun or dispatch, got %q", c.Rollback.GitHubMode)
	}
	switch c.Rollback.Consequence {
	case "none", "demote", "kill":
	default:
		bad("rollback.consequence", "must be none, demote or kill, got %q", c.Rollback.Consequence)
	}
	if sl := c.Slack; sl.BotToken.IsSet() {
		if !sl.SigningSecret.IsSet() {
			bad("slack.signing_secret", "is required with slack.bot_token (it verifies button clicks)")
		}
		if sl.Channel == "" {
			bad("slack.channel", "is required with slack.bot_token")
		}
	}
	for glob := range c.Slack.Channels {
		if _, err := path.Match(glob, ""); err != nil {
			bad("slack.channels."+glob, "bad pattern: %v", err)
		}
	}
	for key, m := range map[string]FailMode{"failure.production": c.Failure.Production, "failure.deploy": c.Failure.Deploy, "failure.build": c.Failure.Build} {
		if m != FailClosed && m != FailOpen {
			bad(key, "must be closed or open, got %q", m)
		}
	}
	for i, p := range c.Failure.ProductionEnvironments {
		if _, err := path.Match(p, ""); err != nil {
			bad(fmt.Sprintf("failure.production_environments[%d]", i), "bad pattern %q: %v", p, err)
		}
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "must be text or json, got %q", c.Log.Format)
	}
	if c.Tracing.Endpoint != "" {
		u, err := url.Parse(c.Tracing.Endpoint)
		switch {
		case err == nil && u.User != nil:
			// Not echoed: it may hold a password.
			bad("tracing.endpoint", "must not carry user information (run a local collector that authenticates)")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad("tracing.endpoint", "must be an absolute http(s) URL, got %q", c.Tracing.Endpoint)
		}
	}
	if c.Tracing.SampleRatio < 0 || c.Tracing.SampleRatio > 1 {
		bad("tracing.sample_ratio", "must be between 0 and 1, got %v", c.Tracing.SampleRatio)
	}
	if strings.TrimSpace(c.Tracing.ServiceName) == "" {
		bad("tracing.service_name", "must not be empty")
	}
	return errors.Join(errs...)
}

// section reports a provider section's problems under its key prefix.
func section(bad func(key, format string, args ...any), prefix string) func(key, format string, args ...any) {
	return func(key, format string, args ...any) { bad(prefix+key, format, args...) }
}

// validateOIDC checks the console's single sign-on.
func validateOIDC(o ConsoleOIDC, bad func(key, format string, args ...any)) {
	if err := httpsOrLoopback(o.Issuer); err != nil {
		bad("issuer", "%s", err)
	}
	if o.ClientID == "" {
		bad("client_id", "is required")
	}
	if err := httpsOrLoopback(o.RedirectURL); err != nil {
		bad("redirect_url", "%s", err)
	} else if u, _ := url.Parse(o.RedirectURL); u.Path != "/ui/oidc/callback" {
		bad("redirect_url", "must be this console's callback, https://HOST/ui/oidc/callback, got path %q", u.Path)
	}
	if len(o.Roles) == 0 {
		bad("roles", `is required: map groups to roles, e.g. {platform-admins: admin, sre: operator, "*": viewer}`)
	}
	for _, group := range slices.Sorted(maps.Keys(o.Roles)) {
		if r := Role(o.Roles[group]); r.Rank() <= 0 {
			bad("roles", "%q maps to %q; roles are viewer, operator and admin", group, o.Roles[group])
		}
	}
}

// httpsOrLoopback checks that raw is an absolute https URL, or http to a
// loopback host (a provider on the same machine, a test).
func httpsOrLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || raw == "" || u.Host == "" {
		return fmt.Errorf("must be an absolute URL, got %q", raw)
	}
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); u.Scheme == "http" && (host == "localhost" || ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("must be https (http only to a loopback host), got %q", raw)
}

// loopbackAddr checks that addr is host:port with a loopback host, so that
// the unauthenticated profiling listener is reachable only from the host
// (or the pod) itself.
func loopbackAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q is not a number", addr, port)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q must be a loopback address such as 127.0.0.1:6060: the profiles are served without authentication", addr)
}
