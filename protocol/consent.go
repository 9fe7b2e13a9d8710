package protocol

import (
	"errors"
	"fmt"
)

// Consent and telemetry limits.
const (
	MaxPolicyVersionBytes = 64
	MaxDeviceIDBytes      = 64
	MaxGuardianRefBytes   = 128
	MaxPurposes           = 16
)

// Purposes a user can consent to (PROMISES CONSENT-3). Each inventory
// element names the purpose it is collected for.
const (
	PurposeRTC       = "rtc"       // audio/video rooms: IP, media, user and room ids
	PurposeQuality   = "quality"   // quality statistics and device facts (APM / dashboard)
	PurposeSignaling = "signaling" // real-time signaling and whiteboard extensions
	PurposeIM        = "im"        // messaging and offline push routing
	PurposeFeedback  = "feedback"  // user feedback, audio dumps, sensor data (optional)
)

// Consent methods: how the end user gave consent.
const (
	ConsentMethodSDK    = "sdk"           // the app called GrantConsent after its own prompt
	ConsentMethodPopup  = "popup"         // Parley's consent popup (web demo)
	ConsentMethodConfig = "device_config" // a field device's init config consent block
)

// Age bands an app declares for its user (MINOR-1).
const (
	AgeBandAdult = "adult"
	AgeBandMinor = "minor" // under 14: guardian consent required
)

// ConsentClaim is the consent the SDK holds, sent with every join so the
// server records it in the consent ledger and checks it against the app's
// current policy version.
type ConsentClaim struct {
	PolicyVersion string   `json:"policy_version"`
	Purposes      []string `json:"purposes"`
	Method        string   `json:"method"`
	GrantedAt     int64    `json:"granted_at"` // Unix ms on the device
	AgeBand       string   `json:"age_band,omitempty"`
	GuardianRef   string   `json:"guardian_ref,omitempty"` // guardian-consent reference for minors
}

// ErrInvalidConsent reports a malformed consent claim.
var ErrInvalidConsent = errors.New("invalid consent")

// Validate checks the claim's shape.
func (c *ConsentClaim) Validate() error {
	if c.PolicyVersion == "" || len(c.PolicyVersion) > MaxPolicyVersionBytes {
		return fmt.Errorf("%w: policy_version: 1-%d bytes required", ErrInvalidConsent, MaxPolicyVersionBytes)
	}
	if len(c.Purposes) == 0 || len(c.Purposes) > MaxPurposes {
		return fmt.Errorf("%w: purposes: 1-%d required", ErrInvalidConsent, MaxPurposes)
	}
	for _, p := range c.Purposes {
		switch p {
		case PurposeRTC, PurposeQuality, PurposeSignaling, PurposeIM, PurposeFeedback:
		default:
			return fmt.Errorf("%w: purposes: %q is not a known purpose", ErrInvalidConsent, truncate(p, 32))
		}
	}
	switch c.Method {
	case ConsentMethodSDK, ConsentMethodPopup, ConsentMethodConfig:
	default:
		return fmt.Errorf("%w: method: %q is not sdk, popup or device_config", ErrInvalidConsent, truncate(c.Method, 32))
	}
	switch c.AgeBand {
	case "", AgeBandAdult, AgeBandMinor:
	default:
		return fmt.Errorf("%w: age_band: %q is not adult or minor", ErrInvalidConsent, truncate(c.AgeBand, 32))
	}
	if len(c.GuardianRef) > MaxGuardianRefBytes {
		return fmt.Errorf("%w: guardian_ref: at most %d bytes", ErrInvalidConsent, MaxGuardianRefBytes)
	}
	return nil
}

// Has reports whether the claim covers purpose.
func (c *ConsentClaim) Has(purpose string) bool {
	for _, p := range c.Purposes {
		if p == purpose {
			return true
		}
	}
	return false
}

// ValidateDeviceID checks an SDK install id: 1-64 bytes of [a-zA-Z0-9_-].
// It is random per installation; hardware identifiers (IMEI, MAC, serial)
// are never used (REFERENCE §6.2 C5).
func ValidateDeviceID(id string) error {
	if id == "" || len(id) > MaxDeviceIDBytes {
		return fmt.Errorf("device_id: 1-%d bytes required", MaxDeviceIDBytes)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("device_id: byte %d (%q) not in [a-zA-Z0-9_-]", i, c)
		}
	}
	return nil
}

// WithdrawConsent is the frame a client sends when the user withdraws
// consent (Stop): the server records it and refuses further personal
// information from the device until fresh consent.
type WithdrawConsent struct {
	Reason string `json:"reason,omitempty"` // free text, at most 256 bytes, not stored verbatim
}
