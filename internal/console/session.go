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
}

var errBadSession = errors.New("console: no valid session")

// sealer signs and opens session cookies with one key.
type sealer struct {
	key []byte
}

// seal returns the cookie value: payload.signature, both base64url.
func (s sealer) seal(v session) (string, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(s.mac(p)), nil
}

// open checks the signature and the expiry at now.
func (s sealer) open(value string, now time.Time) (session, error) {
	p, sig, ok := strings.Cut(value, ".")
	if !ok {
		return session{}, errBadSession
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(p)) {
		return session{}, errBadSession
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return session{}, errBadSession
	}
	var v session
	if err := json.Unmarshal(payload, &v); err != nil || v.Name == "" || v.CSRF == "" || now.Unix() >= v.Expires {
		return session{}, errBadSession
	}
	return v, nil
}

func (s sealer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("agentgate-console-session\x00"))
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
