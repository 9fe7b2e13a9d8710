package dsr_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/dsr"
)

// FuzzVerifyReceipt: a receipt parser never panics, and only the exact
// signed bytes verify.
func FuzzVerifyReceipt(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	good, _, err := dsr.SignReceipt(dsr.Receipt{Format: dsr.ReceiptFormat, RequestID: "r1", SDKAppID: 1, Type: dsr.TypeDelete,
		Subject: "ab", ReceivedAt: time.Unix(1, 0).UTC(), CompletedAt: time.Unix(2, 0).UTC(), DestroyedKeys: []string{"k"}}, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"receipt":{},"signature":"","public_key":""}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rc, err := dsr.VerifyReceipt(b, key.Public().(ed25519.PublicKey))
		if err == nil && (rc.Format != dsr.ReceiptFormat || rc.RequestID == "") {
			t.Fatalf("accepted a receipt without format or id: %s", b)
		}
	})
}

// FuzzParseType: every accepted name round-trips to a known type.
func FuzzParseType(f *testing.F) {
	for _, s := range []string{"delete", "delete-device", "delete_device", "", "Delete", "cancel\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, err := dsr.ParseType(s)
		if err != nil {
			return
		}
		found := false
		for _, k := range dsr.Types {
			found = found || k == typ
		}
		if !found {
			t.Fatalf("ParseType(%q) = %q, not a known type", s, typ)
		}
	})
}
