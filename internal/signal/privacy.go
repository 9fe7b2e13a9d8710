package signal

import (
	"context"
	"strings"

	"github.com/parley-rtc/parley/protocol"
)

// Scope is what a session's consent and switches allow: the purposes the
// user consented to and the switches in force (PROMISES CONSENT-3,
// SWITCH-1…3). A minor's scope has every optional-field switch off
// (MINOR-1).
type Scope struct {
	Purposes map[string]bool
	Switches map[string]bool
	Platform string
	Minor    bool
}

// NewScope builds a scope from a consent decision's purposes and the
// join's switches; minor mode turns every "field.*" switch off.
func NewScope(purposes []string, switches map[string]bool, platform string, minor bool) Scope {
	s := Scope{Purposes: map[string]bool{}, Switches: map[string]bool{}, Platform: platform, Minor: minor}
	for _, p := range purposes {
		s.Purposes[p] = true
	}
	for k, on := range switches {
		if minor && strings.HasPrefix(k, "field.") {
			on = false
		}
		s.Switches[k] = on
	}
	return s
}

// ConsentGate admits joins against the consent ledger and records
// withdrawals. Refusals are *Refusal with -4008 or -4010.
type ConsentGate interface {
	AdmitJoin(ctx context.Context, req *protocol.JoinRequest) (Scope, error)
	Withdraw(ctx context.Context, sdkAppID uint32, userID, deviceID string) error
}

// SessionInfo identifies the source of telemetry.
type SessionInfo struct {
	SDKAppID uint32
	Room     protocol.RoomRef
	UserID   string
	DeviceID string
	Scope    Scope
}

// TelemetrySink validates and stores a telemetry report. A refusal is a
// *Refusal with -4009 naming the field.
type TelemetrySink interface {
	Ingest(ctx context.Context, s SessionInfo, rep *protocol.TelemetryReport) error
}
