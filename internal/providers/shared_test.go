package providers

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/apperr"
)

func TestTexts(t *testing.T) {
	d := Decision{DecisionID: "dec-1", AgentName: "coder", Reasons: []string{"quota: 20 of 20", "scope.environment: production"}, Warnings: []string{"capability: missing"}}
	tests := []struct {
		name, got, want string
	}{
		{name: "approval", got: ApprovalComment(d), want: "Approved by agentgate: agent coder, decision dec-1, warnings: capability: missing"},
		{name: "bare approval", got: ApprovalComment(Decision{}), want: "Approved by agentgate"},
		{name: "rejection", got: RejectionComment(d), want: "Rejected by agentgate (decision dec-1): quota: 20 of 20; scope.environment: production"},
		{name: "join without lines", got: JoinShort("lead", nil), want: "lead"},
		{name: "truncate", got: TruncateRunes("ééééé", 3), want: "éé…"},
		{name: "no truncation", got: TruncateRunes("abc", 3), want: "abc"},
		{name: "clip keeps UTF-8 whole", got: Clip("aé", 2), want: "a"},
		{name: "clip short", got: Clip("abc", 5), want: "abc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("= %q, want %q", tc.got, tc.want)
			}
		})
	}
	if NonEmpty("") != nil || len(NonEmpty("x")) != 1 {
		t.Fatal("NonEmpty")
	}
}

func TestInvalidJSON(t *testing.T) {
	var v struct{ N int }
	tests := []struct {
		name, body, want string
	}{
		{name: "empty", body: "", want: "empty or truncated body"},
		{name: "syntax", body: "{", want: "empty or truncated body"},
		{name: "type", body: `{"N":"x"}`, want: `field "N" must be int, not string`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := InvalidJSON("workflow_run", json.Unmarshal([]byte(tc.body), &v))
			if apperr.KindOf(err) != apperr.KindInvalid || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "invalid workflow_run payload") {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	if d, ok := RetryAfter(&RetryableError{Err: errors.New("429"), Wait: time.Minute}); !ok || d != time.Minute {
		t.Fatalf("RetryAfter = %v %v", d, ok)
	}
	if _, ok := RetryAfter(&RetryableError{Err: errors.New("502")}); ok {
		t.Fatal("a wait was reported for an error that named none")
	}
	if _, ok := RetryAfter(&PermanentError{Err: errors.New("404")}); ok {
		t.Fatal("a permanent error reported a wait")
	}
}
