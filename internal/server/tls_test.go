package server

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/providers"
	"github.com/agentgate/agentgate/internal/testutil/tlstest"
)

// writeCert writes a serving certificate with the given serial.
func writeCert(t *testing.T, dir string, serial int64) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile, _ = tlstest.ServingPair(t, dir, serial)
	return certFile, keyFile
}

func serialOf(t *testing.T, c *tls.Certificate) int64 {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.Int64()
}

func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, 1)
	r, err := newCertReloader(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r.now = func() time.Time { return now }
	get := func() int64 {
		c, err := r.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return serialOf(t, c)
	}
	if got := get(); got != 1 {
		t.Fatalf("serial %d", got)
	}
	time.Sleep(10 * time.Millisecond) // a new modification time
	writeCert(t, dir, 2)
	if got := get(); got != 1 {
		t.Fatalf("reloaded before the check interval: %d", got)
	}
	now = now.Add(11 * time.Second)
	if got := get(); got != 2 {
		t.Fatalf("after rotation serial %d, want 2", got)
	}
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	now = now.Add(11 * time.Second)
	if got := get(); got != 2 {
		t.Fatalf("a broken pair replaced the good one: %d", got)
	}
	if _, err := newCertReloader(filepath.Join(dir, "missing.crt"), keyFile, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a missing certificate was accepted")
	}
}

func TestServeTLS(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	certFile, keyFile := writeCert(t, t.TempDir(), 7)
	reg, _ := providers.NewRegistry()
	s := New(Options{Config: config.Server{TLSCertFile: certFile, TLSKeyFile: keyFile, ShutdownTimeout: time.Second}, Providers: reg})
	addr := serving(t, s.Serve)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 7 {
		t.Fatalf("healthz over TLS = %d %s", resp.StatusCode, body)
	}
}
