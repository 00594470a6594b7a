package app

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/providers/github"
	"github.com/agentgate/agentgate/internal/store"
)

// fakeAppHooks speaks GitHub's App webhook deliveries API: a cursor-paged
// GET /app/hook/deliveries (newest first, Link header) and
// POST /app/hook/deliveries/{id}/attempts (202 Accepted).
type fakeAppHooks struct {
	mu          sync.Mutex
	pages       [][]map[string]any
	redelivered []string
	auth        []string
}

func (f *fakeAppHooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/app/hook/deliveries":
		page := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			_, _ = fmt.Sscanf(c, "page%d", &page)
		}
		if page+1 < len(f.pages) {
			next := fmt.Sprintf("http://%s/app/hook/deliveries?per_page=100&cursor=page%d", r.Host, page+1)
			w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, next))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(f.pages[page])
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/app/hook/deliveries/") && strings.HasSuffix(r.URL.Path, "/attempts"):
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/app/hook/deliveries/"), "/attempts")
		f.redelivered = append(f.redelivered, id)
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{}`)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func hookDelivery(id int64, guid string, at time.Time, status int, redelivery bool) map[string]any {
	return map[string]any{"id": id, "guid": guid, "delivered_at": at.Format(time.RFC3339), "redelivery": redelivery,
		"duration": 0.27, "status": http.StatusText(status), "status_code": status, "event": "deployment_protection_rule",
		"action": "requested", "installation_id": 4242, "repository_id": 17}
}

func testAppKey(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

// TestGitHubRedeliveryAfterOutage: after the store comes back, the
// leader asks GitHub to deliver again exactly the deliveries that failed
// and that agentgate did not process, once each.
func TestGitHubRedeliveryAfterOutage(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	fake := &fakeAppHooks{pages: [][]map[string]any{
		{
			hookDelivery(910, "guid-retried-ok", now.Add(-1*time.Minute), 200, true),
			hookDelivery(909, "guid-failed", now.Add(-2*time.Minute), 503, false),
			hookDelivery(908, "guid-processed", now.Add(-3*time.Minute), 503, false),
		},
		{
			hookDelivery(907, "guid-ok", now.Add(-4*time.Minute), 200, false),
			hookDelivery(906, "guid-retried-ok", now.Add(-5*time.Minute), 503, false),
			hookDelivery(905, "guid-failed-twice", now.Add(-6*time.Minute), 502, true),
			hookDelivery(904, "guid-failed-twice", now.Add(-7*time.Minute), 503, false),
		},
		{
			hookDelivery(903, "guid-too-old", now.Add(-48*time.Hour), 503, false),
		},
	}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	env := map[string]string{
		"ADMISSION_DATA_DIR": dir, "ADMISSION_AUTH_BOOTSTRAP_TOKEN": adminToken,
		"ADMISSION_GITHUB_APP_ID": "1234", "ADMISSION_GITHUB_PRIVATE_KEY": testAppKey(t),
		"ADMISSION_GITHUB_BASE_URL": srv.URL + "/", "ADMISSION_WEBHOOKS_GITHUB_SECRET": "s3cret-s3cret",
	}
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	withGitHub := func(cfg config.Config, log *slog.Logger) ([]providers.Provider, error) {
		gh, err := github.New(github.Options{WebhookSecret: cfg.Webhooks.GitHub.Secret, AppID: cfg.GitHub.AppID,
			PrivateKey: cfg.GitHub.PrivateKey, BaseURL: cfg.GitHub.BaseURL, Logger: log})
		if err != nil {
			return nil, err
		}
		return []providers.Provider{gh}, nil
	}
	a, err := New(context.Background(), Options{Config: cfg, Providers: withGitHub, Announce: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	if a.redeliver == nil {
		t.Fatal("no redelivery scan with GitHub App credentials")
	}
	ctx := context.Background()
	// agentgate answered guid-processed, but the answer did not reach GitHub.
	if _, err := a.Store.ClaimDelivery(ctx, store.Delivery{Provider: "github", ID: "guid-processed", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := a.Store.FinishDelivery(ctx, "github", "guid-processed", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}

	a.redeliver.storeDown() // the store was down: scan at once
	rep, ran := a.redeliver.tick(ctx, now)
	if !ran {
		t.Fatal("no scan after the store came back")
	}
	fake.mu.Lock()
	got := strings.Join(fake.redelivered, ",")
	auth := fake.auth
	fake.mu.Unlock()
	if got != "909,905" || rep.Redelivered != 2 || rep.Failed != 3 || rep.Skipped != 1 {
		t.Fatalf("redelivered %q, report %+v; want 909 and 905 (the latest attempt of each failed guid not processed)", got, rep)
	}
	for _, h := range auth {
		if !strings.HasPrefix(h, "Bearer ") || strings.Count(h, ".") != 2 {
			t.Fatalf("App API called with %q, want the App's JWT", h)
		}
	}
	// Each ask is audited and counted.
	recs, err := a.Store.QueryAudit(ctx, store.AuditQuery{Kind: audit.KindRedelivery})
	if err != nil {
		t.Fatal(err)
	}
	var audited []string
	for _, r := range recs {
		audited = append(audited, r.DeliveryID+"/"+r.Details["delivery_id"]+"/"+r.Details["event"])
	}
	slices.Sort(audited)
	if want := "guid-failed-twice/905/deployment_protection_rule,guid-failed/909/deployment_protection_rule"; strings.Join(audited, ",") != want {
		t.Fatalf("audited %v, want %s", audited, want)
	}
	var m dto.Metric
	if err := a.Metrics.Redeliveries.WithLabelValues("github", "deployment_protection_rule").Write(&m); err != nil || m.GetCounter().GetValue() != 2 {
		t.Fatalf("agentgate_redeliveries_total = %v (%v), want 2", m.GetCounter().GetValue(), err)
	}
	// Not due again yet; and once due, nothing is asked twice.
	if _, ran := a.redeliver.tick(ctx, now.Add(time.Minute)); ran {
		t.Fatal("scanned again before the interval")
	}
	rep, ran = a.redeliver.tick(ctx, now.Add(6*time.Minute))
	if !ran || rep.Redelivered != 0 {
		t.Fatalf("second scan %+v, want nothing asked twice", rep)
	}
	// Nor by a restarted replica, or another one that leads next: what was
	// asked is in the store.
	provs, err := withGitHub(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	next := newRedeliverer(provs, cfg, a.Store, a.Metrics, slog.New(slog.DiscardHandler))
	next.storeDown()
	rep, ran = next.tick(ctx, now.Add(7*time.Minute))
	fake.mu.Lock()
	got = strings.Join(fake.redelivered, ",")
	fake.mu.Unlock()
	if !ran || rep.Redelivered != 0 || rep.Skipped != 3 || got != "909,905" {
		t.Fatalf("after a restart: report %+v, redelivered %q; want nothing asked again", rep, got)
	}
}
