package audit

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/parley-rtc/parley/internal/keyring"
)

// DefaultName is the key name checkpoints are signed under.
const DefaultName = "parley-audit"

// SignerLabel is the keyring.Derive purpose of the checkpoint signing
// seed; a new version gets a new label (and a new verifier key).
const SignerLabel = "audit-log-signer/v1"

// SignerFromRoot derives the checkpoint signer from the keystore's root
// key (keyring.Keystore.Root): the ed25519 seed is keyring.Derive(root,
// SignerLabel), so a restarted server (or the CLI) keeps the same identity
// without storing a private key, and a KEK rotation keeps it too. It
// returns the signer and the verifier key text ("name+hash+base64"),
// which note.NewVerifier accepts and which can be published so anyone can
// check checkpoints (`parley audit key`).
func SignerFromRoot(root []byte, name string) (signer note.Signer, vkey string, err error) {
	if len(root) != keyring.KEKSize {
		return nil, "", fmt.Errorf("audit: root key is %d bytes, want %d", len(root), keyring.KEKSize)
	}
	seed, err := keyring.Derive(root, SignerLabel)
	if err != nil {
		return nil, "", fmt.Errorf("audit: derive signer: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	vkey, err = note.NewEd25519VerifierKey(name, priv.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, "", fmt.Errorf("audit: verifier key: %w", err)
	}
	// vkey is name+hash+key; the signer key repeats name and hash.
	// (The base64 key may contain '+'; NewSigner rejects a bad name.)
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 || parts[0] != name {
		return nil, "", fmt.Errorf("audit: invalid key name %q", name)
	}
	skey := "PRIVATE+KEY+" + parts[0] + "+" + parts[1] + "+" +
		base64.StdEncoding.EncodeToString(append([]byte{1}, seed...)) // 1 = ed25519
	signer, err = note.NewSigner(skey)
	if err != nil {
		return nil, "", fmt.Errorf("audit: signer for %q: %w", name, err)
	}
	return signer, vkey, nil
}
