package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Slack's request signing (https://docs.slack.dev/authentication/verifying-requests-from-slack/).
const (
	headerSignature = "X-Slack-Signature"
	headerTimestamp = "X-Slack-Request-Timestamp"
	signatureScheme = "v0"
	// maxSkew is how far a request's timestamp may be from now.
	maxSkew = 5 * time.Minute
)

// signatureError is why a request's signature was refused. All answer
// 401; the distinction is for logs.
type signatureError string

func (e signatureError) Error() string { return "slack signature: " + string(e) }

// Signature errors.
const (
	errNoSecret       signatureError = "no signing secret is configured"
	errMissingHeaders signatureError = "missing X-Slack-Signature or X-Slack-Request-Timestamp"
	errBadTimestamp   signatureError = "malformed request timestamp"
	errStale          signatureError = "request timestamp is more than 5 minutes from now"
	errBadSignature   signatureError = "signature does not match"
)

// verifySignature checks a Slack request signature: "v0=" and the hex
// HMAC-SHA256, keyed with the signing secret, of "v0:{timestamp}:{body}",
// compared in constant time, with a timestamp within 5 minutes of now
// either way. slack.NewSecretsVerifier does the same against the wall
// clock; this one takes now so fixtures and tests can pin time.
func verifySignature(secret, timestamp, signature string, body []byte, now time.Time) error {
	if secret == "" {
		return errNoSecret
	}
	if timestamp == "" || signature == "" {
		return errMissingHeaders
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || ts <= 0 {
		return errBadTimestamp
	}
	if d := now.Sub(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
		return errStale
	}
	hexSig, ok := strings.CutPrefix(signature, signatureScheme+"=")
	if !ok {
		return errBadSignature
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return errBadSignature
	}
	if !hmac.Equal(got, sign(secret, timestamp, body)) {
		return errBadSignature
	}
	return nil
}

// sign returns the raw HMAC of a request (tests use it to sign fixtures).
func sign(secret, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signatureScheme + ":" + timestamp + ":"))
	mac.Write(body)
	return mac.Sum(nil)
}
