package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultBeforeTimeout is the IM before-send callback budget (REFERENCE.md
// §2: 2 s, fixed).
const DefaultBeforeTimeout = 2 * time.Second

// maxBeforeReply bounds a before-send reply: a modified MsgBody is at most
// one message (12 KB by default) plus the envelope.
const maxBeforeReply = 64 << 10

// Decision is the outcome of a before-send callback. It is always usable,
// even when CallBefore also returns an error: then Allow is the app's
// configured default.
type Decision struct {
	Allow bool
	// Modified is the MsgBody JSON the app backend returned to replace
	// the message's elements (IM convention); nil if unchanged.
	Modified []byte
	// Reason is the backend's ErrorInfo on a veto, or "timeout" /
	// "callback failed" when the default was applied.
	Reason string
	// TimedOut reports that the budget ran out and the default applied.
	TimedOut bool
	// Code is the backend's non-zero ErrorCode on a veto (Tencent IM: 1
	// rejects, 2 discards silently, an app range passes its own code to
	// the sender).
	Code int
}

// Caller makes synchronous IM before-send callbacks. The zero value is
// usable (default HTTP transport, real clock, no logs, no metrics).
type Caller struct {
	HTTPClient *http.Client
	Clock      Clock
	Logger     *slog.Logger
	m          *metrics
}

// NewCaller builds a Caller whose metrics go to reg (nil: none).
func NewCaller(client *http.Client, clock Clock, logger *slog.Logger, reg prometheus.Registerer) (*Caller, error) {
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Caller{HTTPClient: client, Clock: clock, Logger: logger, m: m}, nil
}

// CallBefore is (&Caller{}).CallBefore.
func CallBefore(ctx context.Context, app uint32, url string, key, body []byte, timeout time.Duration, defaultAllow bool) (Decision, error) {
	var c Caller
	return c.CallBefore(ctx, app, url, key, body, timeout, defaultAllow)
}

// The IM callback reply is read field by field, so a malformed field
// cannot turn a veto into the default: ErrorCode (required) decides,
// ErrorInfo is the reason if it is a string, and MsgBody, if present,
// replaces the message elements.
type (
	replyCode struct {
		ErrorCode *int `json:"ErrorCode"`
	}
	replyInfo struct {
		ErrorInfo string `json:"ErrorInfo"`
	}
	replyBody struct {
		MsgBody json.RawMessage `json:"MsgBody"`
	}
)

// CallBefore POSTs body (signed like every callback) to url and waits at
// most timeout (0 = 2 s) for the app backend's verdict. It is not
// durable. On timeout the Decision is defaultAllow with TimedOut set and
// the error is nil; on any other failure (connection, HTTP status other
// than 200, a reply without ErrorCode) it is defaultAllow and the error
// wraps ErrCallbackFailed. Both are logged without personal information.
func (c *Caller) CallBefore(ctx context.Context, app uint32, url string, key, body []byte, timeout time.Duration, defaultAllow bool) (Decision, error) {
	if timeout <= 0 {
		timeout = DefaultBeforeTimeout
	}
	clock := c.Clock
	if clock == nil {
		clock = SystemClock{}
	}
	client := c.HTTPClient
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fallback := func(timedOut bool, phrase string, cause error) (Decision, error) {
		dec := Decision{Allow: defaultAllow, Reason: phrase, TimedOut: timedOut}
		result := "error_default"
		if timedOut {
			result = "timeout_default"
		}
		c.count(result)
		log.Warn("webhook: before-send callback default applied", "sdkappid", app, "reason", phrase, "allow", defaultAllow)
		if cause == nil {
			return dec, nil
		}
		return dec, fmt.Errorf("%w: %s: %w", ErrCallbackFailed, phrase, cause)
	}

	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fallback(false, "invalid callback url", err)
	}
	signRequest(req, app, NewEventID(clock.Now()), key, body, clock.Now())
	resp, err := client.Do(req)
	if err == nil {
		defer resp.Body.Close()
	}
	var reply []byte
	if err == nil {
		reply, err = io.ReadAll(io.LimitReader(resp.Body, maxBeforeReply))
	}
	switch {
	case err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded):
		return fallback(true, "timeout", nil)
	case err != nil && ctx.Err() != nil:
		return fallback(false, "cancelled", ctx.Err())
	case err != nil:
		return fallback(false, "callback failed", errors.New("request failed"))
	case resp.StatusCode != http.StatusOK:
		return fallback(false, "callback failed", fmt.Errorf("http status %d", resp.StatusCode))
	}
	var code replyCode
	if err := json.Unmarshal(reply, &code); err != nil || code.ErrorCode == nil {
		return fallback(false, "callback failed", errors.New("reply has no ErrorCode"))
	}
	if *code.ErrorCode != 0 {
		c.count("veto")
		var info replyInfo
		_ = json.Unmarshal(reply, &info) // a non-string ErrorInfo leaves no reason
		return Decision{Allow: false, Reason: info.ErrorInfo, Code: *code.ErrorCode}, nil
	}
	var r replyBody
	if err := json.Unmarshal(reply, &r); err != nil {
		// An allow whose replacement body is unreadable is no verdict.
		return fallback(false, "callback failed", errors.New("reply MsgBody is not JSON"))
	}
	c.count("allow")
	dec := Decision{Allow: true}
	if len(r.MsgBody) > 0 && !bytes.Equal(r.MsgBody, []byte("null")) {
		dec.Modified = []byte(r.MsgBody)
	}
	return dec, nil
}

func (c *Caller) count(result string) {
	if c.m != nil {
		c.m.beforeSend.WithLabelValues(result).Inc()
	}
}
