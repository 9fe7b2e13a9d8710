// Command parley is Parley's single binary: the server, and the operator and
// developer tools around it. All logic lives in internal/cli; main only
// wires the process's environment and exit code.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/parley-rtc/parley/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.OSEnv())
	stop()
	os.Exit(code)
}
