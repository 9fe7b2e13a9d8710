package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/server"
)

// shutdownGrace bounds how long SIGTERM waits for sessions to end.
const shutdownGrace = 10 * time.Second

// Serve runs the server until ctx is cancelled (SIGINT/SIGTERM), then shuts
// down cleanly: every participant gets exit_room with reason 4.
func Serve(ctx context.Context, args []string, env Env) int {
	cfg, err := config.Load(args, env.Getenv, env.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintln(env.Stderr, "parley serve:", err)
		if errors.Is(err, config.ErrUsage) {
			return ExitUsage
		}
		return ExitFailure
	}
	logger := newLogger(env, cfg)
	srv, err := server.New(cfg, server.Options{Logger: logger, Now: env.Now})
	if err != nil {
		return fail(env, "serve: %v", err)
	}
	if err := srv.Start(ctx); err != nil {
		return fail(env, "serve: %v", err)
	}
	printBanner(env, cfg, srv)
	<-ctx.Done()
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fail(env, "shutdown: %v", err)
	}
	return ExitOK
}

func newLogger(env Env, cfg config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(env.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(env.Stderr, opts))
}

// printBanner tells the operator where Parley listens and, on the first
// start, the development app's credentials (printed once to the terminal,
// never logged).
func printBanner(env Env, cfg config.Config, srv *server.Server) {
	dev := srv.DevApp()
	fmt.Fprintf(env.Stdout, "Parley is running.\n")
	fmt.Fprintf(env.Stdout, "  HTTP / WebSocket: http://%s   (signaling %s)\n", srv.HTTPAddr(), srv.SignalURL())
	fmt.Fprintf(env.Stdout, "  Media (UDP):      %s\n", srv.UDPAddr())
	fmt.Fprintf(env.Stdout, "  Data directory:   %s\n", cfg.DataDir)
	fmt.Fprintf(env.Stdout, "Development app:\n")
	fmt.Fprintf(env.Stdout, "  SDKAppID:   %d\n", dev.SDKAppID)
	fmt.Fprintf(env.Stdout, "  SecretKey:  %s\n", dev.SecretKey)
	fmt.Fprintf(env.Stdout, "  URL:        %s\n", srv.SignalURL())
	if dev.Created {
		fmt.Fprintf(env.Stdout, "  (created now; 'parley app show --sdkappid %d' shows it again)\n", dev.SDKAppID)
	}
	fmt.Fprintf(env.Stdout, "Generate a UserSig: parley usersig gen --sdkappid %d --key %s --user alice\n", dev.SDKAppID, dev.SecretKey)
	fmt.Fprintf(env.Stdout, "Console:  http://%s/console/\n", srv.HTTPAddr())
	if op := srv.FirstOperator(); op.Created {
		fmt.Fprintf(env.Stdout, "  operator %q, password %s\n", op.Name, op.Password)
		fmt.Fprintf(env.Stdout, "  (shown this once; change it with 'parley operator passwd --name %s')\n", op.Name)
	}
	if cfg.HTTP.Demo {
		fmt.Fprintf(env.Stdout, "Demo:     http://%s/demo/   (two tabs make a call; set http.demo: false in production)\n", srv.HTTPAddr())
	}
}
