package principal

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{name: "canonical already", in: "github:coder-bot[bot]", want: "github:coder-bot[bot]"},
		{name: "upper-case provider", in: "GitHub:coder-bot[bot]", want: "github:coder-bot[bot]"},
		{name: "mixed-case github login", in: "github:Coder-Bot[bot]", want: "github:coder-bot[bot]"},
		{name: "mixed-case app slug", in: "GITHUB-APP:Release-Bot", want: "github-app:release-bot"},
		{name: "mixed-case gitlab user", in: "gitlab:Project_42_Bot_AbC", want: "gitlab:project_42_bot_abc"},
		{name: "k8s keeps case", in: "K8S:system:serviceaccount:CI:Agent", want: "k8s:system:serviceaccount:CI:Agent"},
		{name: "argocd keeps case", in: "argocd:proj:Payments:role:Deployer", want: "argocd:proj:Payments:role:Deployer"},
		{name: "NFC composes a combining sequence", in: "argo:jose\u0301", want: "argo:jos\u00e9"},
		{name: "full-width letters stay distinct", in: "argo:\uff41gent", want: "argo:\uff41gent"},
		{name: "trailing space", in: "github:coder-bot[bot] ", wantErr: "space or separator U+0020 at byte 21"},
		{name: "leading space", in: " github:coder-bot[bot]", wantErr: "U+0020 at byte 0"},
		{name: "space inside", in: "github:coder bot", wantErr: "U+0020"},
		{name: "tab", in: "github:coder-bot\t", wantErr: "control character U+0009"},
		{name: "NUL", in: "github:coder-bot[bot]\x00", wantErr: "control character U+0000"},
		{name: "zero-width space", in: "github:coder-bot[bot]\u200b", wantErr: "format character U+200B at byte 21"},
		{name: "byte order mark", in: "\ufeffgithub:coder-bot[bot]", wantErr: "format character U+FEFF at byte 0"},
		{name: "right-to-left override", in: "argo:alice\u202e", wantErr: "format character U+202E"},
		{name: "no-break space", in: "argo:alice\u00a0", wantErr: "space or separator U+00A0"},
		{name: "line separator", in: "argo:alice\u2028", wantErr: "U+2028"},
		{name: "invalid UTF-8", in: "argo:alice\xff", wantErr: "not valid UTF-8 at byte 10"},
		{name: "non-ASCII github login", in: "github:c\u043eder-bot[bot]", wantErr: "ASCII-only"},
		{name: "non-ASCII service account", in: "k8s:system:serviceaccount:ci:\u0430gent", wantErr: "ASCII-only"},
		{name: "empty", in: "", wantErr: "is empty"},
		{name: "no provider", in: "coder-bot", wantErr: "provider-qualified"},
		{name: "empty name", in: "github:", wantErr: "no name"},
		{name: "bad provider", in: "git_hub:x", wantErr: "provider"},
		{name: "over-long", in: "argo:" + strings.Repeat("a", MaxLen), wantErr: "the limit is 288"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Canonical(tc.in)
			if tc.wantErr != "" {
				var pe *Error
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Canonical(%q) = %q, %v; want an *Error containing %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Canonical(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// FuzzCanonical checks the properties identification relies on: the
// canonical form is a fixed point, contains no character the rules refuse,
// and Equal agrees with it.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"github:coder-bot[bot]", "GitHub:Coder-Bot[bot]", "github:coder-bot[bot] ",
		"github:coder-bot[bot]\u200b", "argo:jose\u0301", "k8s:system:serviceaccount:ci:agent", "gitlab:x\x00", "\ufeffargo:a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Canonical(s)
		if err != nil {
			if Equal(s, s) {
				t.Fatalf("Equal(%q, itself) true for an invalid principal", s)
			}
			return
		}
		again, err := Canonical(c)
		if err != nil || again != c {
			t.Fatalf("Canonical(%q) = %q is not a fixed point: %q, %v", s, c, again, err)
		}
		if !utf8.ValidString(c) {
			t.Fatalf("Canonical(%q) = %q is not UTF-8", s, c)
		}
		for _, r := range c {
			if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Z) || unicode.IsSpace(r) {
				t.Fatalf("Canonical(%q) = %q keeps %U", s, c, r)
			}
		}
		if !Equal(s, c) {
			t.Fatalf("Equal(%q, %q) false", s, c)
		}
	})
}
