package dsr

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ReceiptFormat names the receipt format.
const ReceiptFormat = "parley.dsr.receipt/v1"

// ErrBadReceipt means a receipt does not verify.
var ErrBadReceipt = errors.New("dsr: receipt does not verify")

// Receipt is the signed proof of an erasure: per-store counts after
// verification and the destroyed key ids. Subject is the commitment, so
// the receipt can be published without naming the user.
type Receipt struct {
	Format        string       `json:"format"`
	RequestID     string       `json:"request_id"`
	SDKAppID      uint32       `json:"sdkappid"`
	Type          Type         `json:"type"`
	Subject       string       `json:"subject"`
	ReceivedAt    time.Time    `json:"received_at"`
	CompletedAt   time.Time    `json:"completed_at"`
	Stores        []StoreCount `json:"stores"`
	DestroyedKeys []string     `json:"destroyed_keys"`
}

// SignedReceipt is the stored and returned form: the receipt's exact
// JSON text (a string, so no re-encoding on the way — a REST gateway, a
// pretty-printer — can change the signed bytes), an ed25519 signature
// over it and the public key.
type SignedReceipt struct {
	Receipt   string `json:"receipt"`
	Signature string `json:"signature"`  // base64
	PublicKey string `json:"public_key"` // base64
}

// SignReceipt signs rc and returns the SignedReceipt JSON and the hex
// SHA-256 of the receipt bytes (what the audit log records).
func SignReceipt(rc Receipt, key ed25519.PrivateKey) ([]byte, string, error) {
	body, err := json.Marshal(rc)
	if err != nil {
		return nil, "", fmt.Errorf("dsr: encode receipt: %w", err)
	}
	sig := ed25519.Sign(key, body)
	out, err := json.Marshal(SignedReceipt{Receipt: string(body), Signature: base64.StdEncoding.EncodeToString(sig),
		PublicKey: base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))})
	if err != nil {
		return nil, "", fmt.Errorf("dsr: encode receipt: %w", err)
	}
	sum := sha256.Sum256(body)
	return out, hex.EncodeToString(sum[:]), nil
}

// VerifyReceipt checks a SignedReceipt against the expected public key
// and returns the receipt.
func VerifyReceipt(signed []byte, pub ed25519.PublicKey) (Receipt, error) {
	var s SignedReceipt
	if err := json.Unmarshal(signed, &s); err != nil {
		return Receipt{}, fmt.Errorf("%w: %w", ErrBadReceipt, err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return Receipt{}, fmt.Errorf("%w: the verification key is %d bytes, want %d", ErrBadReceipt, len(pub), ed25519.PublicKeySize)
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil || !ed25519.Verify(pub, []byte(s.Receipt), sig) {
		return Receipt{}, fmt.Errorf("%w: bad signature", ErrBadReceipt)
	}
	var rc Receipt
	if err := json.Unmarshal([]byte(s.Receipt), &rc); err != nil || rc.Format != ReceiptFormat {
		return Receipt{}, fmt.Errorf("%w: not a %s receipt", ErrBadReceipt, ReceiptFormat)
	}
	return rc, nil
}
