package test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/server"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// testEnv is a running server with its development app.
type testEnv struct {
	srv     *server.Server
	appID   uint32
	key     string
	dataDir string
}

// startServer runs a Parley server on ephemeral loopback ports with its
// data directory in t.TempDir(); it shuts down when the test ends.
func startServer(t *testing.T, mutate ...func(*config.Config)) *testEnv {
	t.Helper()
	return startServerWithLogger(t, testLogger(), mutate...)
}

// startServerWithLogger is startServer with the server's logger given.
func startServerWithLogger(t *testing.T, logger *slog.Logger, mutate ...func(*config.Config)) *testEnv {
	t.Helper()
	return startServerOpts(t, server.Options{Logger: logger}, mutate...)
}

// startServerOpts is startServer with the server's options given (a
// clock for tests of time windows).
func startServerOpts(t *testing.T, opts server.Options, mutate ...func(*config.Config)) *testEnv {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger()
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Media.UDPPort = 0
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := server.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	dev := srv.DevApp()
	return &testEnv{srv: srv, appID: dev.SDKAppID, key: dev.SecretKey, dataDir: cfg.DataDir}
}

// userSig signs a one-day UserSig for user with the dev app's key.
func (e *testEnv) userSig(t *testing.T, user string) string {
	t.Helper()
	sig, err := auth.GenerateUserSig(e.appID, e.key, user, 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// client builds an SDK client for user, with the user's consent recorded
// and the SDK initialised (CONSENT-1); it is closed when the test ends.
func (e *testEnv) client(t *testing.T, user string, l parley.Listener) *parley.Client {
	t.Helper()
	return e.clientWith(t, user, parley.Config{Listener: l}, testPolicyVersion, "rtc")
}

// testPolicyVersion is the policy version the tests' users consent to.
const testPolicyVersion = "2025-09-11"

// clientWith builds a client for user from cfg (URL, app and UserSig are
// filled in), grants consent to policyVersion for purposes and calls Init.
// It is closed when the test ends.
func (e *testEnv) clientWith(t *testing.T, user string, cfg parley.Config, policyVersion string, purposes ...string) *parley.Client {
	t.Helper()
	cfg.URL, cfg.SDKAppID, cfg.UserID, cfg.UserSig = e.srv.SignalURL(), e.appID, user, e.userSig(t, user)
	if cfg.Logger == nil {
		cfg.Logger = testLogger().With("client", user)
	}
	c, err := parley.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.GrantConsent(policyVersion, purposes...); err != nil {
		t.Fatal(err)
	}
	if err := c.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// testCtx is a context bounded well inside the test binary's timeout.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitFor blocks until ch yields or ctx ends.
func waitFor[T any](t *testing.T, ctx context.Context, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// testLogger discards logs unless PARLEY_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("PARLEY_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// publishClips publishes the committed test clips: VP8 video
// (testdata/media/vp8.ivf, 320x240 15 fps) and/or Opus audio
// (testdata/media/opus.ogg).
func publishClips(t *testing.T, ctx context.Context, c *parley.Client, video, audio bool) {
	t.Helper()
	if video {
		v, err := parley.NewIVFSource(vp8File)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.PublishVideo(ctx, v, parley.VideoOptions{}); err != nil {
			t.Fatalf("publish video: %v", err)
		}
	}
	if audio {
		a, err := parley.NewOggSource(opusFile)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.PublishAudio(ctx, a); err != nil {
			t.Fatalf("publish audio: %v", err)
		}
	}
}
