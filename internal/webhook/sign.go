package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Header names set on every callback request.
const (
	HeaderContentType = "Content-Type"
	HeaderSdkAppID    = "SdkAppId"
	HeaderSign        = "Sign"
	HeaderEventID     = "X-Parley-Event-Id"
	HeaderTimestamp   = "X-Parley-Timestamp"
	HeaderSignature   = "X-Parley-Signature"
)

// MaxAge is the default replay window of VerifyWithTimestamp: a signed
// timestamp older (or further in the future) than this is rejected
// (REFERENCE.md §1.4).
const MaxAge = time.Minute

// maxVerifyBody bounds what VerifyRequest reads.
const maxVerifyBody = 1 << 20

func mac(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// Sign is TRTC's Sign header: base64(HMAC-SHA256(key, body)) over the raw
// body bytes.
func Sign(key, body []byte) string {
	return base64.StdEncoding.EncodeToString(mac(key, body))
}

// SignWithTimestamp is the X-Parley-Signature header:
// base64(HMAC-SHA256(key, ts + "." + body)), ts the decimal Unix seconds
// sent in X-Parley-Timestamp.
func SignWithTimestamp(key []byte, ts string, body []byte) string {
	return base64.StdEncoding.EncodeToString(mac(key, []byte(ts), []byte("."), body))
}

// Verify reports whether sign is Sign(key, body), in constant time.
func Verify(key, body []byte, sign string) bool {
	got, err := base64.StdEncoding.DecodeString(sign)
	if err != nil {
		return false
	}
	return hmac.Equal(got, mac(key, body))
}

// VerifyWithTimestamp checks X-Parley-Signature sig over ts and body and
// that ts is within maxAge of now (either side, for clock skew); maxAge
// <= 0 means MaxAge. It returns ErrBadTimestamp, ErrBadSignature or
// ErrStale. The signature is checked before the age, so a forged request
// never learns the window.
func VerifyWithTimestamp(key, body []byte, ts, sig string, now time.Time, maxAge time.Duration) error {
	if maxAge <= 0 {
		maxAge = MaxAge
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ts == "" || ts[0] == '+' {
		return fmt.Errorf("%w: %q", ErrBadTimestamp, ts)
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: signature is not base64", ErrBadSignature)
	}
	if !hmac.Equal(got, mac(key, []byte(ts), []byte("."), body)) {
		return fmt.Errorf("%w: mismatch", ErrBadSignature)
	}
	age := now.Sub(time.Unix(sec, 0))
	if age > maxAge || age < -maxAge {
		return fmt.Errorf("%w: signed %s ago, window %s", ErrStale, age.Truncate(time.Second), maxAge)
	}
	return nil
}

// VerifyRequest is the receiver side for app backends and tests: it reads
// the body (at most 1 MiB) and checks both Sign and X-Parley-Signature
// with its timestamp. It returns the raw body and the event id.
func VerifyRequest(r *http.Request, key []byte, now time.Time, maxAge time.Duration) (body []byte, eventID string, err error) {
	body, err = io.ReadAll(io.LimitReader(r.Body, maxVerifyBody+1))
	if err != nil {
		return nil, "", fmt.Errorf("webhook: read body: %w", err)
	}
	if len(body) > maxVerifyBody {
		return nil, "", fmt.Errorf("%w: body over %d bytes", ErrBadSignature, maxVerifyBody)
	}
	if !Verify(key, body, r.Header.Get(HeaderSign)) {
		return nil, "", fmt.Errorf("%w: Sign header", ErrBadSignature)
	}
	if err := VerifyWithTimestamp(key, body, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), now, maxAge); err != nil {
		return nil, "", err
	}
	return body, r.Header.Get(HeaderEventID), nil
}

// signRequest sets the callback headers on r for body, signed at now.
func signRequest(r *http.Request, app uint32, eventID string, key, body []byte, now time.Time) {
	ts := strconv.FormatInt(now.Unix(), 10)
	h := r.Header
	h.Set(HeaderContentType, "application/json")
	h.Set(HeaderSdkAppID, strconv.FormatUint(uint64(app), 10))
	h.Set(HeaderSign, Sign(key, body))
	if eventID != "" {
		h.Set(HeaderEventID, eventID)
	}
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, SignWithTimestamp(key, ts, body))
}
