package main

import (
	"io"
	"log/slog"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"

	agentgate "github.com/agentgate/agentgate/internal/app"
	"github.com/agentgate/agentgate/internal/config"
)

func (a *app) serveCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the admission server",
		Long: `Run the admission server.

With no configuration it starts on the embedded default: SQLite in ./data,
the built-in policies, listening on 127.0.0.1:8080, and a bootstrap admin
token printed once. Every setting can come from the YAML file given with
--config (or ADMISSION_CONFIG) and from ADMISSION_* environment variables;
see docs/configuration.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath, a.env)
			if err != nil {
				return err
			}
			log := newLogger(a.stderr, cfg.Log)
			gin.SetMode(gin.ReleaseMode)
			svc, err := agentgate.New(cmd.Context(), agentgate.Options{Config: cfg, Logger: log, Providers: buildProviders, Announce: a.stderr, Version: version})
			if err != nil {
				return err
			}
			defer svc.Close()
			log.Info("agentgate starting", "version", version, "store", svc.Store.Backend(),
				"policy", svc.Policy.Status().Source, "policy_revision", svc.Policy.Status().Revision, "listen", cfg.Server.Listen)
			return svc.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", envOr(a.env, "ADMISSION_CONFIG", ""), "YAML configuration file (env ADMISSION_CONFIG)")
	return cmd
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(c.Level))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
