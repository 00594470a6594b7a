package app

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/server"
)

// bootstrapHashFile keeps the SHA-256 of a generated bootstrap token.
const bootstrapHashFile = "bootstrap-token.sha256"

// staticTokens returns the configured API tokens plus the bootstrap admin
// token. Without a configured bootstrap token on SQLite, one is generated at
// first start, printed once to announce, and only its hash kept in DataDir.
func (a *App) staticTokens(announce io.Writer) ([]server.StaticToken, error) {
	cfg := a.Config.Auth
	var out []server.StaticToken
	for _, t := range cfg.Tokens {
		out = append(out, server.NewStaticToken(t.Name, t.Role, t.Token.Reveal()))
	}
	if cfg.BootstrapToken.IsSet() {
		return append(out, server.NewStaticToken("bootstrap-admin", config.RoleAdmin, cfg.BootstrapToken.Reveal())), nil
	}
	if a.Config.Store.Driver != "sqlite" {
		return out, nil
	}
	path := filepath.Join(a.Config.DataDir, bootstrapHashFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		sum, derr := hex.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("%s is corrupt; delete it to generate a new bootstrap token", path)
		}
		return append(out, server.NewStaticTokenFromHash("bootstrap-admin", config.RoleAdmin, [sha256.Size]byte(sum))), nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	token := "agadm_" + base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	if err := os.MkdirAll(a.Config.DataDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(announce, "\nBootstrap admin token (shown once; only its hash is kept in %s):\n\n    %s\n\nexport ADMISSION_TOKEN=%s\n\n", path, token, token)
	return append(out, server.NewStaticTokenFromHash("bootstrap-admin", config.RoleAdmin, sum)), nil
}
