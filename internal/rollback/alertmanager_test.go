package rollback

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/testutil/fixtures"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixtures.Path("alertmanager", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseWebhookCaptured(t *testing.T) {
	tests := []struct {
		file, status string
		alerts       int
	}{
		{"alertmanager-0.25-firing.json", StatusFiring, 1},
		{"alertmanager-0.25-resolved.json", StatusResolved, 1},
		{"alertmanager-agentgate-firing.json", StatusFiring, 3},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			w, err := ParseWebhook(readTestdata(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if w.Status != tc.status || len(w.Alerts) != tc.alerts || w.Version != "4" {
				t.Fatalf("parsed %+v", w)
			}
			a := w.Alerts[0]
			if a.Fingerprint != "6e890fd1d2e6636f" || a.Labels["alertname"] != "HighErrorRate" || a.StartsAt.IsZero() ||
				a.Annotations["summary"] != "error ratio high for checkout" {
				t.Fatalf("alert %+v", a)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	t.Run("captured without agentgate labels gives none", func(t *testing.T) {
		w, err := ParseWebhook(readTestdata(t, "alertmanager-0.25-firing.json"))
		if err != nil {
			t.Fatal(err)
		}
		ts, errs := Targets(w)
		if len(ts) != 0 || errs != nil {
			t.Fatalf("targets %v, errs %v", ts, errs)
		}
	})
	t.Run("labelled", func(t *testing.T) {
		w, err := ParseWebhook(readTestdata(t, "alertmanager-agentgate-firing.json"))
		if err != nil {
			t.Fatal(err)
		}
		ts, errs := Targets(w)
		if errs != nil {
			t.Fatal(errs)
		}
		if len(ts) != 2 {
			t.Fatalf("targets %+v, want 2 (the resolved one left out)", ts)
		}
		gh, argo := ts[0], ts[1]
		if gh.Provider != "github" || gh.Repo != "shop/checkout" || gh.Environment != "production" || gh.Action != ActionRollback ||
			gh.Source != SourceAlert || gh.Fingerprint != "6e890fd1d2e6636f" || gh.StartsAt.IsZero() ||
			gh.Reason != "alertmanager: HighErrorRate: error ratio high for checkout" {
			t.Fatalf("github target %+v", gh)
		}
		if argo.Provider != "argo" || argo.Repo != "cart" || argo.App != "cart" || argo.Action != ActionNotify {
			t.Fatalf("argo target %+v", argo)
		}
	})
	tests := []struct {
		name    string
		labels  map[string]string
		want    int
		wantErr string
	}{
		{"missing environment", map[string]string{LabelProvider: "github", LabelRepo: "o/r"}, 0, LabelEnvironment},
		{"unknown action", map[string]string{LabelProvider: "github", LabelRepo: "o/r", LabelEnvironment: "p", LabelAction: "explode"}, 0, "explode"},
		{"duplicate merged", map[string]string{LabelProvider: "github", LabelRepo: "o/r", LabelEnvironment: "p"}, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := Webhook{Version: "4", Status: StatusFiring, Alerts: []Alert{{Status: StatusFiring, Labels: tc.labels}, {Status: StatusFiring, Labels: tc.labels}}}
			ts, errs := Targets(w)
			if len(ts) != tc.want {
				t.Fatalf("targets %+v, want %d", ts, tc.want)
			}
			if tc.wantErr == "" && errs != nil || tc.wantErr != "" && (errs == nil || !strings.Contains(errs.Error(), tc.wantErr)) {
				t.Fatalf("errs %v, want %q", errs, tc.wantErr)
			}
		})
	}
}

func TestParseWebhookRejects(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"not json", `{`, "decode"},
		{"version 3", `{"version":"3","status":"firing","alerts":[]}`, "version"},
		{"bad status", `{"version":"4","status":"weird","alerts":[]}`, "status"},
		{"bad alert status", `{"version":"4","status":"firing","alerts":[{"status":"x"}]}`, "alert 0"},
		{"trailing data", `{"version":"4","status":"firing"} {}`, "trailing"},
		{"too large", `{"version":"4","status":"firing","receiver":"` + strings.Repeat("x", MaxWebhookBytes) + `"}`, "exceeds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseWebhook([]byte(tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzParseWebhook(f *testing.F) {
	for _, name := range []string{"alertmanager-0.25-firing.json", "alertmanager-0.25-resolved.json", "alertmanager-agentgate-firing.json"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"agentgate_provider":"x"}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := ParseWebhook(body)
		if err != nil {
			return
		}
		ts, _ := Targets(w)
		seen := map[string]bool{}
		for _, tg := range ts {
			if tg.Provider == "" || tg.Repo == "" || tg.Environment == "" || (tg.Action != ActionRollback && tg.Action != ActionNotify) {
				t.Fatalf("invalid target %+v", tg)
			}
			if seen[tg.Key()] {
				t.Fatalf("duplicate target %+v", tg)
			}
			seen[tg.Key()] = true
		}
	})
}

func TestResolved(t *testing.T) {
	labels := func(repo string) map[string]string {
		return map[string]string{LabelProvider: "github", LabelRepo: repo, LabelEnvironment: "production", "alertname": "HighErrorRate"}
	}
	tests := []struct {
		name   string
		alerts []Alert
		want   []string
	}{
		{"a resolved alert", []Alert{{Status: StatusResolved, Labels: labels("shop/a")}}, []string{"shop/a"}},
		{"resolved while another of its target fires", []Alert{{Status: StatusResolved, Labels: labels("shop/a")}, {Status: StatusFiring, Labels: labels("shop/a")}}, nil},
		{"two resolved alerts of one target, once", []Alert{{Status: StatusResolved, Labels: labels("shop/a")}, {Status: StatusResolved, Labels: labels("shop/a")}}, []string{"shop/a"}},
		{"not about agentgate", []Alert{{Status: StatusResolved, Labels: map[string]string{"alertname": "DiskFull"}}}, nil},
		{"no environment", []Alert{{Status: StatusResolved, Labels: map[string]string{LabelProvider: "github", LabelRepo: "shop/a"}}}, nil},
		{"firing only", []Alert{{Status: StatusFiring, Labels: labels("shop/a")}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, tg := range Resolved(Webhook{Version: "4", Status: StatusResolved, Alerts: tc.alerts}) {
				got = append(got, tg.Repo)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("Resolved = %v, want %v", got, tc.want)
			}
		})
	}
}
