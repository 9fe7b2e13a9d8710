package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/internal/operator"
	"github.com/parley-rtc/parley/internal/privacy/consent"
	"github.com/parley-rtc/parley/protocol"
	parleyjs "github.com/parley-rtc/parley/sdk/js"
	"github.com/parley-rtc/parley/web"
)

// webCSP is the Content-Security-Policy of every page Parley serves: its
// own scripts, styles and images only (no CDN, no inline script), media
// from the camera, and connections back to this server (the signaling
// WebSocket). frame-ancestors 'none' keeps the console out of frames
// (clickjacking).
const webCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob: mediastream:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// Demo defaults, used while the development app has no published policy:
// the server then accepts consent to any version, and the demo shows
// this summary and the policy page shipped with it.
const (
	demoPolicyVersion = "parley-demo-1"
	demoPolicyURL     = "/demo/policy.html"
	demoPolicySummary = "To put you in a call, Parley processes your user name, room name, camera and " +
		"microphone (forwarded to the other participants, never recorded), your network address " +
		"(truncated before storage) and call-quality statistics (kept 14 days). Chat messages are " +
		"kept 7 days. Nothing is collected before you agree; you can withdraw at any time."
)

// demoUserSigTTL is how long a demo UserSig lasts: one evaluation
// session, not a standing credential.
const demoUserSigTTL = 2 * time.Hour

// webDeps are what the pages need from the server.
type webDeps struct {
	demo     bool
	dev      uint32 // the development app
	secret   func(ctx context.Context, appID uint32) (string, error)
	policies func(ctx context.Context, appID uint32) ([]consent.Policy, error)
	now      func() time.Time
	log      *slog.Logger
}

// registerWeb mounts the browser SDK (/sdk/), the console page
// (/console/) and, when enabled, the demo (/demo/). Assets are embedded
// in the binary, so `parley serve` needs no npm step (issue 6).
func registerWeb(mux *http.ServeMux, d webDeps) error {
	sdk := http.FileServerFS(parleyjs.Files)
	mux.Handle("GET /sdk/", withWebHeaders(http.StripPrefix("/sdk/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The system MIME table may call .ts an MPEG stream.
		if strings.HasSuffix(r.URL.Path, ".d.ts") {
			w.Header().Set("Content-Type", "application/typescript; charset=utf-8")
		}
		sdk.ServeHTTP(w, r)
	}))))
	con, err := fs.Sub(web.Console, "console")
	if err != nil {
		return err
	}
	mux.Handle("GET /console/", withWebHeaders(http.StripPrefix("/console/", http.FileServerFS(con))))
	mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
	if !d.demo {
		return nil
	}
	demo, err := fs.Sub(web.Demo, "demo")
	if err != nil {
		return err
	}
	page, err := template.ParseFS(demo, "index.html")
	if err != nil {
		return err
	}
	h := &demoHandler{deps: d, page: page, limit: rate.NewLimiter(5, 20)}
	mux.Handle("GET /demo/{$}", withWebHeaders(http.HandlerFunc(h.index)))
	mux.Handle("GET /demo", http.RedirectHandler("/demo/", http.StatusMovedPermanently))
	mux.Handle("GET /demo/", withWebHeaders(http.StripPrefix("/demo/", http.FileServerFS(demo))))
	mux.Handle("POST /demo/usersig", http.HandlerFunc(h.userSig))
	return nil
}

// withWebHeaders adds the security headers every page and asset gets.
func withWebHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", webCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Camera and microphone for this origin only; nothing else.
		h.Set("Permissions-Policy", "camera=(self), microphone=(self), geolocation=(), interest-cohort=()")
		// Assets change with the binary; revalidate instead of caching
		// a stale SDK next to a new server.
		h.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}

type demoHandler struct {
	deps  webDeps
	page  *template.Template
	limit *rate.Limiter // UserSig minting, all clients together
}

// demoPage is what index.html is rendered with.
type demoPage struct {
	SDKAppID      uint32
	PolicyVersion string
	PolicySummary string
	PolicyURL     string
}

// index renders the demo with the development app's policy in force:
// the newest published version already effective, else the demo
// default (CONSENT-4: the popup shows a short policy and links the full
// one).
func (h *demoHandler) index(w http.ResponseWriter, r *http.Request) {
	p := demoPage{SDKAppID: h.deps.dev, PolicyVersion: demoPolicyVersion,
		PolicySummary: demoPolicySummary, PolicyURL: demoPolicyURL}
	ps, err := h.deps.policies(r.Context(), h.deps.dev)
	if err != nil {
		h.deps.log.Error("demo: policies unavailable", "err", err)
		http.Error(w, "the policy in force cannot be read; retry", http.StatusServiceUnavailable)
		return
	}
	if i := policyInForce(ps, h.deps.now()); i >= 0 {
		in := ps[i]
		p.PolicyVersion = in.Version
		if in.Summary != "" {
			p.PolicySummary = in.Summary
		}
		if in.URL != "" {
			p.PolicyURL = in.URL
		}
	}
	var buf bytes.Buffer
	if err := h.page.Execute(&buf, p); err != nil {
		h.deps.log.Error("demo: page", "err", err)
		http.Error(w, "demo page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// maxDemoBody bounds POST /demo/usersig: {"user_id": at most 32 bytes}.
const maxDemoBody = 1 << 10

// demoSigRequest is the body of POST /demo/usersig.
type demoSigRequest struct {
	UserID string `json:"user_id"`
}

// errDemoBody is the precise message for a body that is not one object
// with a valid user_id.
var errDemoBody = errors.New(`want {"user_id": "..."}: 1-32 bytes of letters, digits, underscore or hyphen`)

func parseDemoSigRequest(body []byte) (demoSigRequest, error) {
	var req demoSigRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		return demoSigRequest{}, errDemoBody
	}
	if err := protocol.ValidateUserID(req.UserID); err != nil {
		return demoSigRequest{}, errDemoBody
	}
	return req, nil
}

// userSig mints a short-lived UserSig for the development app. The page
// calls it only after the visitor agreed in the consent popup, so a
// visitor who refuses sends nothing (CONSENT-1, CONSENT-4). The user id
// is not logged.
func (h *demoHandler) userSig(w http.ResponseWriter, r *http.Request) {
	writeErr := func(status int, code, msg string) { operator.WriteError(w, operator.Errorf(status, code, "%s", msg)) }
	if !h.limit.Allow() {
		writeErr(http.StatusTooManyRequests, "rate_limited", "at most 5 demo UserSigs per second; retry shortly")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxDemoBody+1))
	if err != nil || len(body) > maxDemoBody {
		writeErr(http.StatusBadRequest, "invalid_body", "body unreadable or over 1 KiB")
		return
	}
	req, err := parseDemoSigRequest(body)
	if err != nil {
		writeErr(http.StatusBadRequest, "invalid_body", err.Error())
		return
	}
	now := h.deps.now()
	sig, err := h.mint(r.Context(), req.UserID, now)
	if err != nil {
		h.deps.log.Error("demo: usersig", "err", err)
		writeErr(http.StatusInternalServerError, "internal", "UserSig generation failed")
		return
	}
	operator.WriteJSON(w, http.StatusOK, map[string]any{"sdkappid": h.deps.dev, "user_sig": sig,
		"expire_at": now.Add(demoUserSigTTL).UTC().Format(time.RFC3339)})
}

// mint signs a UserSig with the development app's current key, read each
// time because the console may have rotated it.
func (h *demoHandler) mint(ctx context.Context, userID string, now time.Time) (string, error) {
	key, err := h.deps.secret(ctx, h.deps.dev)
	if err != nil {
		return "", err
	}
	return auth.GenerateUserSig(h.deps.dev, key, userID, demoUserSigTTL, now)
}
