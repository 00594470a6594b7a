// Command admission is agentgate: the admission server (admission serve)
// and its command-line client. Flags live here only; everything else takes
// options structs.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// app carries what every subcommand shares; it is built once in main.
type app struct {
	stdout io.Writer
	stderr io.Writer
	env    func(string) (string, bool)
	// client flags
	server string
	token  string
	output string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdout: os.Stdout, stderr: os.Stderr, env: os.LookupEnv}
	err := a.root().ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		var ec exitCoder
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}

// exitCoder lets a command choose its exit status (e.g. policy test failures).
type exitCoder interface{ ExitCode() int }

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "admission",
		Short:         "agentgate: admission control for AI agents in CI/CD",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	pf := root.PersistentFlags()
	a.server = envOr(a.env, "ADMISSION_SERVER", "http://127.0.0.1:8080")
	pf.Var(urlValue{&a.server}, "server", "agentgate server URL (env ADMISSION_SERVER)")
	a.token = envOr(a.env, "ADMISSION_TOKEN", "")
	pf.Var(secretValue{&a.token}, "token", "API bearer token (env ADMISSION_TOKEN)")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table or json (agents get also takes yaml)")
	root.AddCommand(a.serveCmd(), a.policyCmd(), a.gateCmd(), a.hookCmd(), a.versionCmd())
	root.AddCommand(a.clientCommands()...)
	return root
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "admission", version)
			return err
		},
	}
}

func envOr(env func(string) (string, bool), key, def string) string {
	if v, ok := env(key); ok && v != "" {
		return v
	}
	return def
}
