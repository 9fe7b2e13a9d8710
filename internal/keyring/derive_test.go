package keyring

import (
	"bytes"
	"testing"
)

func TestDeriveSeparatesLabels(t *testing.T) {
	kek := bytes.Repeat([]byte{7}, 32)
	a, err := Derive(kek, "telemetry-pseudonym/v1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Derive(kek, "other/v1")
	a2, _ := Derive(kek, "telemetry-pseudonym/v1")
	other, _ := Derive(bytes.Repeat([]byte{8}, 32), "telemetry-pseudonym/v1")
	if len(a) != 32 || bytes.Equal(a, b) || !bytes.Equal(a, a2) || bytes.Equal(a, other) || bytes.Equal(a, kek) {
		t.Fatal("derived keys must be 32 bytes, stable per (kek, label) and distinct across labels and keks")
	}
}
