package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/operator"
	"github.com/parley-rtc/parley/internal/privacy/consent"
)

// startWebServer runs a whole server on loopback with a fresh data
// directory.
func startWebServer(t *testing.T, mutate func(*config.Config)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Media.UDPPort = 0
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// The SDK, the console and the demo are served from the binary with a
// CSP that admits no other origin (the pages must not depend on a CDN),
// and the demo page carries the development app and the policy in force.
func TestWebAssetsServed(t *testing.T) {
	srv := startWebServer(t, nil)
	base := "http://" + srv.HTTPAddr()
	for _, tc := range []struct{ path, ctype string }{
		{"/sdk/parley.js", "text/javascript"},
		{"/sdk/parley.d.ts", "application/typescript"},
		{"/console/", "text/html"},
		{"/demo/", "text/html"},
	} {
		res, body := get(t, base+tc.path)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.ctype) {
			t.Fatalf("%s: %d %q, want 200 %s", tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.ctype)
		}
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "http") || strings.Contains(csp, "unsafe") {
			t.Fatalf("%s: CSP %q admits more than this origin", tc.path, csp)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: no nosniff", tc.path)
		}
		if len(body) == 0 {
			t.Fatalf("%s: empty", tc.path)
		}
	}
	// The demo page is rendered with the development app and, without a
	// published policy, the demo default. proves CONSENT-4
	_, page := get(t, base+"/demo/")
	for _, want := range []string{strconv.FormatUint(uint64(srv.DevApp().SDKAppID), 10), demoPolicyVersion, "withdraw at any time"} {
		if !strings.Contains(page, want) {
			t.Fatalf("demo page lacks %q", want)
		}
	}
	if strings.Contains(page, "{{") {
		t.Fatal("demo page has an unrendered template action")
	}
}

// A published policy in force replaces the demo default in the popup.
func TestDemoShowsPolicyInForce(t *testing.T) {
	srv := startWebServer(t, nil)
	ctx := t.Context()
	_, err := srv.privacy.consent.PublishPolicy(ctx, srv.DevApp().SDKAppID, consent.Policy{
		Version: "2026-11", Summary: "Short summary of policy 2026-11.", URL: "https://example.com/privacy"})
	if err != nil {
		t.Fatal(err)
	}
	_, page := get(t, "http://"+srv.HTTPAddr()+"/demo/")
	for _, want := range []string{"2026-11", "Short summary of policy 2026-11.", "https://example.com/privacy"} {
		if !strings.Contains(page, want) {
			t.Fatalf("demo page lacks %q", want)
		}
	}
}

// The demo's UserSig endpoint signs for the development app with its
// current key and refuses anything but one valid user id.
func TestDemoUserSig(t *testing.T) {
	srv := startWebServer(t, nil)
	url := "http://" + srv.HTTPAddr() + "/demo/usersig"
	post := func(body string) (int, map[string]any) {
		res, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	code, out := post(`{"user_id":"alice"}`)
	if code != http.StatusOK {
		t.Fatalf("status %d %v", code, out)
	}
	dev := srv.DevApp()
	if uint32(out["sdkappid"].(float64)) != dev.SDKAppID {
		t.Fatalf("sdkappid %v, want %d", out["sdkappid"], dev.SDKAppID)
	}
	if _, err := auth.VerifyUserSig(dev.SDKAppID, dev.SecretKey, "alice", out["user_sig"].(string), time.Now()); err != nil {
		t.Fatalf("the UserSig does not verify: %v", err)
	}
	// After a rotation the demo signs with the new key.
	rot, err := srv.Apps().RotateSecret(t.Context(), dev.SDKAppID)
	if err != nil {
		t.Fatal(err)
	}
	_, out = post(`{"user_id":"bob"}`)
	if _, err := auth.VerifyUserSig(dev.SDKAppID, rot.SecretKey, "bob", out["user_sig"].(string), time.Now()); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	for _, bad := range []string{``, `{}`, `{"user_id":""}`, `{"user_id":"a b"}`, `{"user_id":"alice","x":1}`,
		`{"user_id":"alice"}{}`, `[]`, `{"user_id":"` + strings.Repeat("a", 33) + `"}`, strings.Repeat(" ", 2000)} {
		code, out := post(bad)
		if code != http.StatusBadRequest {
			t.Fatalf("%q: status %d, want 400", bad, code)
		}
		if e, _ := out["error"].(map[string]any); e == nil || e["code"] != "invalid_body" || e["message"] == "" {
			t.Fatalf("%q: no error message: %v", bad, out)
		}
	}
}

// With http.demo off there is no demo page and no UserSig endpoint; the
// console and SDK stay.
func TestDemoDisabled(t *testing.T) {
	srv := startWebServer(t, func(c *config.Config) { c.HTTP.Demo = false })
	base := "http://" + srv.HTTPAddr()
	if res, _ := get(t, base+"/demo/"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("/demo/ = %d, want 404", res.StatusCode)
	}
	res, err := http.Post(base+"/demo/usersig", "application/json", strings.NewReader(`{"user_id":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK {
		t.Fatal("the UserSig endpoint answers with the demo off")
	}
	if res, _ := get(t, base+"/sdk/parley.js"); res.StatusCode != http.StatusOK {
		t.Fatalf("/sdk/parley.js = %d", res.StatusCode)
	}
}

// A new data directory gets an owner whose password logs in to the
// console; a second start creates none.
func TestFirstOperatorCreatedOnce(t *testing.T) {
	dir := t.TempDir()
	mut := func(c *config.Config) { c.DataDir = dir }
	srv := startWebServer(t, mut)
	op := srv.FirstOperator()
	if !op.Created || op.Name != FirstOperatorName || len(op.Password) < operator.MinPasswordLen {
		t.Fatalf("first operator %+v", op)
	}
	body, _ := json.Marshal(map[string]string{"name": op.Name, "password": op.Password})
	res, err := http.Post("http://"+srv.HTTPAddr()+"/v1/console/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("login with the printed password: %d", res.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	again := startWebServer(t, mut)
	if again.FirstOperator().Created {
		t.Fatal("a second start created another operator")
	}
}

func FuzzParseDemoSigRequest(f *testing.F) {
	for _, s := range []string{`{"user_id":"alice"}`, `{}`, `{"user_id":1}`, `{"user_id":"a"}{}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := parseDemoSigRequest(b)
		if err != nil {
			if !errors.Is(err, errDemoBody) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if req.UserID == "" || len(req.UserID) > 32 {
			t.Fatalf("accepted %q", req.UserID)
		}
	})
}
