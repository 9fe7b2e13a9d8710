package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-rtc/parley/internal/app"
)

// appCallback sets, shows or clears an app's event callback (webhook)
// target: parley app callback --sdkappid N [--url URL --key KEY | --clear]
// [--json]. The key is sealed at rest and never printed.
func appCallback(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newAppFlagSet("callback", env, &f)
	getID := sdkAppIDFlag(fs)
	url := fs.String("url", "", "callback `URL` (http or https) that receives signed events")
	key := fs.String("key", "", "callback signing `key`: 1-32 letters and digits")
	clearIt := fs.Bool("clear", false, "remove the callback")
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	id, ok := getID(env)
	if !ok {
		return ExitUsage
	}
	if *clearIt && (*url != "" || *key != "") || (*url == "") != (*key == "") {
		fmt.Fprintln(env.Stderr, "parley app callback: give --url and --key together, or --clear, or neither to show")
		return ExitUsage
	}
	l, err := openLocal(ctx, f, env, false)
	if err != nil {
		return fail(env, "app callback: %v", err)
	}
	code := runAppCallback(ctx, l, id, *url, *key, *clearIt, f.json, env)
	if err := l.Close(); err != nil {
		return fail(env, "app callback: close database: %v", err)
	}
	return code
}

func runAppCallback(ctx context.Context, l *app.Local, id uint32, url, key string, clearIt, asJSON bool, env Env) int {
	if _, err := l.Apps.Get(ctx, id); err != nil {
		return appError(env, "callback", id, err)
	}
	switch {
	case clearIt:
		if err := l.Callbacks.Clear(ctx, id); err != nil {
			return fail(env, "app callback: %v", err)
		}
	case url != "":
		if err := l.Callbacks.Set(ctx, id, app.Callback{URL: url, Key: key}); err != nil {
			if errors.Is(err, app.ErrInvalidCallback) {
				fmt.Fprintln(env.Stderr, "parley app callback:", err)
				return ExitUsage
			}
			return fail(env, "app callback: %v", err)
		}
	}
	cb, set, err := l.Callbacks.Get(ctx, id)
	if err != nil {
		return fail(env, "app callback: %v", err)
	}
	if asJSON {
		return writeJSON(env, struct {
			SDKAppID uint32 `json:"sdkappid"`
			URL      string `json:"url,omitempty"`
			KeySet   bool   `json:"key_set"`
		}{id, cb.URL, set})
	}
	if !set {
		fmt.Fprintf(env.Stdout, "App %d has no callback.\n", id)
		return ExitOK
	}
	fmt.Fprintf(env.Stdout, "App %d sends events to %s (signing key set).\n", id, cb.URL)
	return ExitOK
}
