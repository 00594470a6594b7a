package principal

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits of a principal.
const (
	// MaxLen is the longest principal accepted, in bytes, prefix included.
	MaxLen = 288
	// MaxNameLen is the longest name after the prefix, in bytes.
	MaxNameLen = 255
)

// Error says why a principal is not valid. Its message names no field: the
// caller adds the field ("event.principal", "principals[1]").
type Error struct {
	// Reason is a human-readable explanation.
	Reason string
}

func (e *Error) Error() string { return e.Reason }

func invalid(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

var providerPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)

// caseInsensitive are the providers whose account names compare
// case-insensitively and are ASCII-only: GitHub logins and App slugs,
// GitLab usernames.
func caseInsensitive(provider string) bool {
	switch provider {
	case "github", "github-app", "gitlab":
		return true
	}
	return false
}

// Canonical returns the canonical form of p, or an *Error saying why p can
// be no provider's principal.
func Canonical(p string) (string, error) {
	if p == "" {
		return "", invalid("is empty")
	}
	if len(p) > MaxLen {
		return "", invalid("is %d bytes, the limit is %d", len(p), MaxLen)
	}
	if err := checkRunes(p); err != nil {
		return "", err
	}
	provider, name, ok := strings.Cut(p, ":")
	if !ok {
		return "", invalid("%q must be provider-qualified, e.g. github:login", p)
	}
	provider = strings.ToLower(provider)
	if !providerPattern.MatchString(provider) {
		return "", invalid("provider %q must be 2-32 lowercase letters, digits or '-' (github, github-app, gitlab, k8s, argocd, argo, ...)", provider)
	}
	if name == "" {
		return "", invalid("has no name after %q", provider+":")
	}
	switch {
	case caseInsensitive(provider):
		if i := nonASCII(name); i >= 0 {
			return "", invalid("%s names are ASCII-only; byte %d is not", provider, len(provider)+1+i)
		}
		name = strings.ToLower(name)
	case provider == "k8s" && strings.HasPrefix(name, "system:serviceaccount:"):
		if i := nonASCII(name); i >= 0 {
			return "", invalid("Kubernetes service-account names are ASCII-only; byte %d is not", len(provider)+1+i)
		}
	default:
		name = norm.NFC.String(name)
	}
	if len(name) > MaxNameLen {
		return "", invalid("name is %d bytes, the limit is %d", len(name), MaxNameLen)
	}
	return provider + ":" + name, nil
}

// Equal reports whether a and b are valid and name the same principal.
func Equal(a, b string) bool {
	ca, err := Canonical(a)
	if err != nil {
		return false
	}
	cb, err := Canonical(b)
	return err == nil && ca == cb
}

// checkRunes refuses invalid UTF-8 and characters of categories Cc
// (control), Cf (format: zero-width, bidi overrides, BOM) and Z (spaces and
// separators).
func checkRunes(p string) error {
	for i, r := range p {
		switch {
		case r == utf8.RuneError && !validAt(p, i):
			return invalid("is not valid UTF-8 at byte %d", i)
		case unicode.Is(unicode.Cc, r):
			return invalid("contains a control character %U at byte %d", r, i)
		case unicode.Is(unicode.Cf, r):
			return invalid("contains a format character %U at byte %d", r, i)
		case unicode.In(r, unicode.Z) || unicode.IsSpace(r):
			return invalid("contains a space or separator %U at byte %d", r, i)
		}
	}
	return nil
}

// validAt reports whether the U+FFFD at byte i was really written as such.
func validAt(p string, i int) bool {
	r, size := utf8.DecodeRuneInString(p[i:])
	return r == utf8.RuneError && size == 3
}

func nonASCII(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return i
		}
	}
	return -1
}
