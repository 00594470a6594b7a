package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// session is what the signed cookie holds.
type session struct {
	Name    string `json:"n"`
	Role    string `json:"r"`
	Expires int64  `json:"e"` // Unix seconds
	CSRF    string `json:"c"`
	// Via is "oidc" for a single sign-on, empty for an API token.
	Via string `json:"v,omitempty"`
	// Groups and Aliases are what the identity provider said of the
	// person (see Person); never from a form.
	Groups  []string `json:"g,omitempty"`
	Aliases []string `json:"a,omitempty"`
}

// person is who the session is.
func (s session) person() Person {
	return Person{Name: s.Name, Role: s.Role, Groups: s.Groups, Aliases: s.Aliases}
}

// Cookie purposes: each is signed under its own label, so that one kind
// of cookie can never be passed off as another.
const (
	purposeSession = "agentgate-console-session"
	purposeSSO     = "agentgate-console-sso"
)

var errBadSession = errors.New("console: no valid session")

// sealer signs and opens session cookies with one key.
type sealer struct {
	key []byte
}

// seal returns the session cookie's value.
func (s sealer) seal(v session) (string, error) { return s.sealAs(purposeSession, v) }

// open checks the session cookie's signature and its expiry at now.
func (s sealer) open(value string, now time.Time) (session, error) {
	var v session
	if err := s.openAs(purposeSession, value, &v); err != nil || v.Name == "" || v.CSRF == "" || now.Unix() >= v.Expires {
		return session{}, errBadSession
	}
	return v, nil
}

// sealAs returns payload.signature, both base64url, for v as JSON signed
// for purpose.
func (s sealer) sealAs(purpose string, v any) (string, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(s.mac(purpose, p)), nil
}

// openAs checks that value was sealed for purpose and decodes it into v.
func (s sealer) openAs(purpose, value string, v any) error {
	p, sig, ok := strings.Cut(value, ".")
	if !ok {
		return errBadSession
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(purpose, p)) {
		return errBadSession
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return errBadSession
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return errBadSession
	}
	return nil
}

func (s sealer) mac(purpose, payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// randomToken is 128 random bits, base64url.
func randomToken() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(16))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (Go 1.24+)
	return b
}

// sameToken compares CSRF tokens in constant time; empty never matches.
func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
