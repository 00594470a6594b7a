package app

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/audit"
	"github.com/agentgate/agentgate/internal/providers"
)

// The principal bypass suite: an agent registered as github:coder-bot[bot]
// that may deploy to staging only tries other spellings of its identity to
// get a production deploy through. Each attempt must fail, on both stores:
// a spelling the provider treats as the same account is that agent (and is
// refused production by scope), and a spelling no provider can produce is
// refused as invalid input, recorded, and never taken for a human.

const bypassAgent = "github:coder-bot[bot]"

// attemptDeploy registers the staging-only coding agent and posts a signed
// production deploy with principal p.
func attemptDeploy(t *testing.T, h *harness, p string) (int, answer) {
	t.Helper()
	h.provision(codingAgent("coder-bot"))
	body, err := json.Marshal(deploy(p, "production"))
	if err != nil {
		t.Fatal(err)
	}
	return h.webhookRaw(fmt.Sprintf("d-%d", rand.Int64()), body, providers.SignHMACSHA256([]byte(webhookSecret), body))
}

// assertRefusedInvalid checks a 400 naming event.principal, and that the
// only trace is one refusal record.
func assertRefusedInvalid(t *testing.T, h *harness, p, wantReason string) {
	t.Helper()
	before := h.auditCount()
	code, a := attemptDeploy(t, h, p)
	if code != http.StatusBadRequest || a.Error == nil || !strings.Contains(a.Error.Message, "event.principal") ||
		!strings.Contains(a.Error.Message, wantReason) {
		t.Fatalf("deploy as %q = %d %+v, want 400 naming event.principal and %q", p, code, a, wantReason)
	}
	var page struct {
		Items []audit.Record `json:"items"`
	}
	h.mustCall(http.MethodGet, "/api/v1/audit?limit=1000", viewerToken, nil, http.StatusOK, &page)
	var refusals, decisions int
	for _, r := range page.Items {
		switch r.Kind {
		case audit.KindRefusal:
			refusals++
			if r.Decision == nil || r.Decision.Outcome != "deny" || r.AgentID != "" {
				t.Fatalf("refusal record = %+v", r)
			}
		case audit.KindDecision:
			decisions++
		}
	}
	if refusals != 1 || decisions != 0 || len(page.Items) != before+2 { // the registration and the refusal
		t.Fatalf("audit after the attempt: %d refusals, %d decisions, %d records (before %d)", refusals, decisions, len(page.Items), before)
	}
}

// assertDecidedAsAgent checks that the spelling resolved to the agent,
// which may not deploy to production.
func assertDecidedAsAgent(t *testing.T, h *harness, p string) {
	t.Helper()
	code, a := attemptDeploy(t, h, p)
	if code != http.StatusOK || len(a.Decisions) != 1 {
		t.Fatalf("deploy as %q = %d %+v", p, code, a)
	}
	d := a.Decisions[0]
	if d.Outcome != "deny" || d.Unregistered || !slices.Contains(a.rules(), "scope.environment") {
		t.Fatalf("deploy as %q = %+v, want denied as the agent by scope.environment", p, d)
	}
}

func TestBypassPrincipalTrailingSpace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		assertRefusedInvalid(t, h, bypassAgent+" ", "U+0020 at byte 21")
	})
}

func TestBypassPrincipalLeadingSpace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		assertRefusedInvalid(t, h, " "+bypassAgent, "U+0020 at byte 0")
	})
}

func TestBypassPrincipalZeroWidthSpace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		assertRefusedInvalid(t, h, bypassAgent+"\u200b", "format character U+200B")
	})
}

func TestBypassPrincipalNUL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		assertRefusedInvalid(t, h, bypassAgent+"\x00", "control character U+0000")
	})
}

func TestBypassPrincipalBOM(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		assertRefusedInvalid(t, h, "\ufeff"+bypassAgent, "format character U+FEFF")
	})
}

func TestBypassPrincipalNBSP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		assertRefusedInvalid(t, h, bypassAgent+"\u00a0", "U+00A0")
	})
}

func TestBypassPrincipalHomoglyph(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		// A Cyrillic "о": no GitHub login can hold it.
		assertRefusedInvalid(t, h, "github:c\u043eder-bot[bot]", "ASCII-only")
	})
}

func TestBypassPrincipalUpperCaseProvider(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		assertDecidedAsAgent(t, h, "GitHub:coder-bot[bot]")
	})
}

func TestBypassPrincipalMixedCaseLogin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		assertDecidedAsAgent(t, h, "github:Coder-Bot[bot]")
	})
}

func TestBypassPrincipalRegistrationMixedCase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		spec := codingAgent("coder-bot")
		spec["principals"] = []string{"GitHub:Coder-Bot[bot]"}
		var out struct {
			Agent struct {
				Principals []string `json:"principals"`
			} `json:"agent"`
		}
		h.mustCall(http.MethodPost, "/api/v1/agents", adminToken, spec, http.StatusCreated, &out)
		if !slices.Equal(out.Agent.Principals, []string{bypassAgent}) {
			t.Fatalf("stored principals = %q", out.Agent.Principals)
		}
		body, _ := json.Marshal(deploy(bypassAgent, "production"))
		code, a := h.webhookRaw("d-canonical", body, providers.SignHMACSHA256([]byte(webhookSecret), body))
		if code != http.StatusOK || a.Decisions[0].Unregistered || !slices.Contains(a.rules(), "scope.environment") {
			t.Fatalf("deploy as the canonical principal = %d %+v", code, a)
		}
	})
}

func TestBypassPrincipalRegistrationZeroWidth(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *harness) {
		spec := codingAgent("coder-bot")
		spec["principals"] = []string{bypassAgent + "\u200b"}
		var out answer
		code := h.call(http.MethodPost, "/api/v1/agents", adminToken, spec, &out)
		if code != http.StatusBadRequest || out.Error == nil || !strings.Contains(out.Error.Message, "principals[0]") {
			t.Fatalf("register with a zero-width space = %d %+v", code, out)
		}
	})
}
