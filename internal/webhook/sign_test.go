package webhook

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"
)

func TestSignKnownVector(t *testing.T) {
	// HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") =
	// f7bc83f4…2d1a3cd8 (RFC 4231-style public vector), base64-encoded.
	key, body := []byte("key"), []byte("The quick brown fox jumps over the lazy dog")
	const want = "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="
	if got := Sign(key, body); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if !Verify(key, body, want) {
		t.Fatal("Verify rejects the vector")
	}
	for i := range body {
		tampered := append([]byte(nil), body...)
		tampered[i] ^= 1
		if Verify(key, tampered, want) {
			t.Fatalf("Verify accepts a body with byte %d changed", i)
		}
	}
	if Verify([]byte("kex"), body, want) || Verify(key, body, "not base64!") || Verify(key, body, "") {
		t.Fatal("Verify accepts a wrong key or a malformed signature")
	}
}

func TestVerifyWithTimestampReplayWindow(t *testing.T) {
	key, body := []byte("k3y"), []byte(`{"EventType":103}`)
	signedAt := testT0()
	ts := strconv.FormatInt(signedAt.Unix(), 10)
	sig := SignWithTimestamp(key, ts, body)
	for _, c := range []struct {
		name string
		ts   string
		sig  string
		body []byte
		now  time.Time
		want error
	}{
		{"fresh", ts, sig, body, signedAt, nil},
		{"59 s old", ts, sig, body, signedAt.Add(59 * time.Second), nil},
		{"61 s old: replay", ts, sig, body, signedAt.Add(61 * time.Second), ErrStale},
		{"61 s in the future", ts, sig, body, signedAt.Add(-61 * time.Second), ErrStale},
		{"timestamp moved forward", strconv.FormatInt(signedAt.Unix()+60, 10), sig, body, signedAt.Add(90 * time.Second), ErrBadSignature},
		{"body changed", ts, sig, []byte(`{"EventType":104}`), signedAt, ErrBadSignature},
		{"signature not base64", ts, "%%%", body, signedAt, ErrBadSignature},
		{"no timestamp", "", sig, body, signedAt, ErrBadTimestamp},
		{"timestamp not decimal", "12e3", sig, body, signedAt, ErrBadTimestamp},
		{"plus sign", "+" + ts, sig, body, signedAt, ErrBadTimestamp},
	} {
		err := VerifyWithTimestamp(key, c.body, c.ts, c.sig, c.now, 0)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	// A wider window accepts what the default rejects.
	if err := VerifyWithTimestamp(key, body, ts, sig, signedAt.Add(5*time.Minute), 10*time.Minute); err != nil {
		t.Fatalf("10 min window: %v", err)
	}
}

func TestNewEventIDIsUUIDv7(t *testing.T) {
	a, b := NewEventID(testT0()), NewEventID(testT0().Add(time.Millisecond))
	if len(a) != 36 || a[14] != '7' || a == b || a > b {
		t.Fatalf("ids %s, %s: want distinct, time-ordered UUIDv7", a, b)
	}
	if ms := fmt.Sprintf("%012x", testT0().UnixMilli()); a[:8]+a[9:13] != ms {
		t.Fatalf("id %s does not start with the time %s", a, ms)
	}
	switch a[19] {
	case '8', '9', 'a', 'b':
	default:
		t.Fatalf("id %s: variant nibble %c", a, a[19])
	}
}
