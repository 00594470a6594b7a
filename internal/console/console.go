package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/agentgate/agentgate/internal/agents"
	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/store"
)

// Cookie names.
const (
	sessionCookie = "agentgate_session"
	// loginCookie carries the sign-in form's CSRF token (double submit),
	// so that no other site can sign a browser in as someone else.
	loginCookie = "agentgate_login"
)

//go:embed templates/*.html
var templateFS embed.FS

// Person is who signed in.
type Person struct {
	// Name is the token's name, or the name claim of a single sign-on,
	// recorded as the actor of what they do.
	Name string
	// Role is viewer, operator or admin.
	Role string
	// Groups are the groups the identity provider says the person is in:
	// an approval whose approvers name one admits them.
	Groups []string
	// Aliases are the person's other names at the identity provider
	// (e-mail, user name): they never admit, they only keep a person
	// from approving the change they prompted an agent to make.
	Aliases []string
}

// ErrAgentToken is what Authenticate returns for an agent's own token.
var ErrAgentToken = errors.New("agent tokens cannot sign in to the console")

// Agents is where the pages read agents from.
type Agents interface {
	List(ctx context.Context, f store.AgentFilter) ([]agents.Agent, error)
	Get(ctx context.Context, idOrName string) (agents.Agent, error)
}

// KillSwitches is how the pages read and pull kill switches. The
// implementation decides who may: engaging needs the operator role,
// releasing the rules of DELETE /api/v1/killswitches/{id}.
type KillSwitches interface {
	List(ctx context.Context, activeOnly bool) ([]store.KillSwitch, error)
	Engage(ctx context.Context, p Person, r KillRequest) (store.KillSwitch, error)
	Release(ctx context.Context, p Person, id, reason string) (store.KillSwitch, error)
}

// Approvals is how the pages read and resolve held changes; Resolve
// applies the approval's own rules of who may (the same as the API's and
// Slack's).
type Approvals interface {
	List(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error)
	Resolve(ctx context.Context, p Person, id string, approve bool, reason string) (store.Approval, error)
}

// AgentActions changes an agent's standing for a person; the
// implementation applies the API's roles (suspend, resume and kill need
// an operator, promote and demote an admin).
type AgentActions interface {
	Act(ctx context.Context, p Person, action, idOrName, reason string) error
}

// Agent actions the agent page offers.
const (
	ActionSuspend = "suspend"
	ActionResume  = "resume"
	ActionKill    = "kill"
	ActionPromote = "promote"
	ActionDemote  = "demote"
)

// Audit is where the audit explorer reads records.
type Audit interface {
	QueryAudit(ctx context.Context, q store.AuditQuery) ([]audit.Record, error)
	// AuditHead is the newest record's seq: the live stream starts after it.
	AuditHead(ctx context.Context) (int64, error)
	// ScanAudit walks the stored records, for verifying the chain.
	ScanAudit(ctx context.Context, afterSeq int64, fn func(audit.Stored) error) error
	// CountAudit counts records by outcome per bucket of time, for the
	// overview's decisions per minute and an agent's track record.
	CountAudit(ctx context.Context, q store.AuditCountQuery) ([]store.AuditCount, error)
}

// KillRequest is the engage form.
type KillRequest struct {
	Scope  store.KillScope
	Target string
	Reason string
}

// maxForm caps a request body to the console.
const maxForm = 64 << 10

//go:embed static/live.js
var liveJS []byte

// Options configures a Console.
type Options struct {
	Logger *slog.Logger
	// Authenticate maps an API token to the person it belongs to: an
	// error for an unknown token, ErrAgentToken for an agent's.
	Authenticate func(ctx context.Context, token string) (Person, error)
	Agents       Agents
	KillSwitches KillSwitches
	Approvals    Approvals
	Audit        Audit
	Actions      AgentActions
	// Rollbacks is nil when rollback is not configured.
	Rollbacks Rollbacks
	// Usage reads agents' quota usage for their pages.
	Usage Usage
	// Promotions shows and decides proposed promotions; nil when
	// promotion from track record is off.
	Promotions Promotions
	// OIDC, when set, offers single sign-on beside the API token.
	OIDC *OIDC
	// Key signs session cookies; replicas that share sessions share it.
	// At least 32 bytes.
	Key []byte
	// TTL is how long a session lasts; 8h when zero.
	TTL time.Duration
	// Secure marks the cookies Secure (the console is served over TLS).
	Secure bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// LiveEvery is how often the live stream looks for new decisions;
	// one second when zero.
	LiveEvery time.Duration
}

// Console serves the pages.
type Console struct {
	o     Options
	sso   *sso // nil without single sign-on
	seal  sealer
	pages *template.Template
	mux   *http.ServeMux
	// done ends the live streams when the server shuts down.
	done     chan struct{}
	stopOnce sync.Once
}

// Shutdown ends the open live streams, so that a server shutting down
// does not wait for browsers to leave. Later streams end at once.
func (c *Console) Shutdown() { c.stopOnce.Do(func() { close(c.done) }) }

// New returns the console.
func New(o Options) (*Console, error) {
	if len(o.Key) < 32 {
		return nil, fmt.Errorf("console: the session key must be at least 32 bytes, not %d", len(o.Key))
	}
	if o.Authenticate == nil || o.Agents == nil || o.KillSwitches == nil || o.Approvals == nil || o.Audit == nil || o.Actions == nil {
		return nil, errors.New("console: Authenticate, Agents, KillSwitches, Approvals, Audit and Actions are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.TTL <= 0 {
		o.TTL = 8 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LiveEvery <= 0 {
		o.LiveEvery = time.Second
	}
	pages, err := template.New("console").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	c := &Console{o: o, seal: sealer{key: o.Key}, pages: pages, mux: http.NewServeMux(), done: make(chan struct{})}
	if o.OIDC != nil {
		if c.sso, err = newSSO(*o.OIDC); err != nil {
			return nil, err
		}
		c.mux.HandleFunc("GET /ui/oidc/start", c.ssoStart)
		c.mux.HandleFunc("GET "+CallbackPath, c.ssoCallback)
	}
	c.mux.HandleFunc("GET /ui/{$}", c.signedIn(c.overview))
	c.mux.HandleFunc("GET /ui/live", c.signedIn(c.live))
	c.mux.HandleFunc("GET /ui/static/live.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(liveJS)
	})
	c.mux.HandleFunc("GET /ui/login", c.loginPage)
	c.mux.HandleFunc("POST /ui/login", c.login)
	c.mux.HandleFunc("POST /ui/logout", c.signedIn(c.logout))
	c.mux.HandleFunc("GET /ui/agents", c.signedIn(c.agentList))
	c.mux.HandleFunc("GET /ui/agents/{name}", c.signedIn(c.agentPage))
	c.mux.HandleFunc("POST /ui/agents/{name}/{action}", c.signedIn(c.agentAction))
	c.mux.HandleFunc("GET /ui/audit", c.signedIn(c.auditList))
	c.mux.HandleFunc("GET /ui/audit/{seq}", c.signedIn(c.auditRecord))
	c.mux.HandleFunc("POST /ui/audit/verify", c.signedIn(c.verifyChain))
	c.mux.HandleFunc("GET /ui/approvals", c.signedIn(c.approvalList))
	c.mux.HandleFunc("POST /ui/approvals/{id}/approve", c.signedIn(c.resolve(true)))
	c.mux.HandleFunc("POST /ui/approvals/{id}/reject", c.signedIn(c.resolve(false)))
	c.mux.HandleFunc("GET /ui/killswitches", c.signedIn(c.killSwitchList))
	c.mux.HandleFunc("POST /ui/killswitches", c.signedIn(c.engage))
	c.mux.HandleFunc("POST /ui/killswitches/{id}/release", c.signedIn(c.release))
	c.mux.HandleFunc("GET /ui/rollbacks", c.signedIn(c.rollbackList))
	c.mux.HandleFunc("POST /ui/promotions/{id}/confirm", c.signedIn(c.decidePromotion(true)))
	c.mux.HandleFunc("POST /ui/promotions/{id}/refuse", c.signedIn(c.decidePromotion(false)))
	c.mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		c.render(w, http.StatusNotFound, "error.html", pageData{Title: "Not found", Message: "There is no page at " + r.URL.Path + "."})
	})
	return c, nil
}

// ServeHTTP serves /ui/... with the headers every page carries.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	// Forms are small: a reason, a token. A bigger body is cut off, and
	// the form then fails its CSRF check.
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	c.mux.ServeHTTP(w, r)
}

// pageData is what every template gets.
type pageData struct {
	Title   string
	Person  *session
	Message string
	CSRF    string
	Data    any
}

func (c *Console) render(w http.ResponseWriter, status int, name string, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := c.pages.ExecuteTemplate(w, name, d); err != nil {
		c.o.Logger.Error("console: render page", "page", name, "err", err)
	}
}

func (c *Console) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	ck := &http.Cookie{Name: name, Value: value, Path: "/ui", HttpOnly: true, Secure: c.o.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(maxAge / time.Second)}
	if maxAge < 0 {
		ck.MaxAge = -1
	}
	return ck
}

// signedIn runs h with the request's session, or sends the browser to the
// sign-in page. A POST must also carry the session's CSRF token.
func (c *Console) signedIn(h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(sessionCookie)
		var s session
		if err == nil {
			s, err = c.seal.open(ck.Value, c.o.Now())
		}
		if err != nil {
			if r.Method != http.MethodGet {
				c.render(w, http.StatusUnauthorized, "error.html", pageData{Title: "Signed out", Message: "Your session has ended; sign in again."})
				return
			}
			http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !sameToken(r.PostFormValue("csrf"), s.CSRF) {
			c.render(w, http.StatusForbidden, "error.html", pageData{Title: "Refused", Person: &s,
				Message: "The form did not carry this session's token; reload the page and try again."})
			return
		}
		h(w, r, s)
	}
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	token := randomToken()
	http.SetCookie(w, c.cookie(loginCookie, token, 30*time.Minute))
	c.render(w, http.StatusOK, "login.html", pageData{Title: "Sign in", CSRF: token, Data: c.loginData()})
}

// loginForm is what the sign-in page offers besides the token.
type loginForm struct {
	// SSO is the single sign-on button's label; empty without one.
	SSO string
}

func (c *Console) loginData() loginForm {
	if c.sso == nil {
		return loginForm{}
	}
	return loginForm{SSO: c.sso.o.Label}
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(r.PostFormValue("csrf"), ck.Value) {
		c.render(w, http.StatusForbidden, "error.html", pageData{Title: "Refused",
			Message: "The sign-in form has expired or did not come from this console; open it again."})
		return
	}
	retry := func(status int, msg string) {
		token := randomToken()
		http.SetCookie(w, c.cookie(loginCookie, token, 30*time.Minute))
		c.render(w, status, "login.html", pageData{Title: "Sign in", CSRF: token, Message: msg, Data: c.loginData()})
	}
	p, err := c.o.Authenticate(r.Context(), r.PostFormValue("token"))
	switch {
	case errors.Is(err, ErrAgentToken):
		retry(http.StatusForbidden, "That is an agent's token: the console is for people. Use a viewer, operator or admin token.")
		return
	case err != nil:
		retry(http.StatusUnauthorized, "That token is not valid.")
		return
	}
	c.startSession(w, r, p, "")
}

// startSession signs p in: a new session cookie (and CSRF token), and on
// to the agents page.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, p Person, via string) {
	s := session{Name: p.Name, Role: p.Role, Expires: c.o.Now().Add(c.o.TTL).Unix(), CSRF: randomToken(),
		Via: via, Groups: p.Groups, Aliases: p.Aliases}
	value, err := c.seal.seal(s)
	if err != nil {
		c.render(w, http.StatusInternalServerError, "error.html", pageData{Title: "Error", Message: "The session could not be created."})
		return
	}
	http.SetCookie(w, c.cookie(loginCookie, "", -1))
	http.SetCookie(w, c.cookie(sessionCookie, value, c.o.TTL))
	if via == "" {
		via = "token"
	}
	c.o.Logger.InfoContext(r.Context(), "console sign-in", "name", p.Name, "role", p.Role, "via", via)
	http.Redirect(w, r, "/ui/agents", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s session) {
	http.SetCookie(w, c.cookie(sessionCookie, "", -1))
	c.o.Logger.InfoContext(r.Context(), "console sign-out", "name", s.Name)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}
