package dsr

import (
	"encoding/json"
	"fmt"
	"time"
)

// Type is what a request asks for (RIGHTS-1, RIGHTS-2, RIGHTS-6).
type Type string

// Request types.
const (
	TypeAccess       Type = "access"        // what is stored, by store and category
	TypeExport       Type = "export"        // a portable copy of everything stored
	TypeCorrect      Type = "correct"       // correct a user-declared field
	TypeDelete       Type = "delete"        // erase the user's personal information
	TypeDeleteDevice Type = "delete_device" // erase what the SDK reported for one device
	TypeWithdraw     Type = "withdraw"      // withdraw consent and erase what it covered
	TypeCancel       Type = "cancel"        // cancel the account: erase everything, irreversibly
)

// Types lists the request types in documentation order.
var Types = []Type{TypeAccess, TypeExport, TypeCorrect, TypeDelete, TypeDeleteDevice, TypeWithdraw, TypeCancel}

// ParseType accepts a type name, with "-" for "_" (CLI spelling).
func ParseType(s string) (Type, error) {
	for _, t := range Types {
		if string(t) == s || dash(string(t)) == s {
			return t, nil
		}
	}
	return "", fmt.Errorf("%w: unknown type %q (want access, export, correct, delete, delete-device, withdraw or cancel)", ErrInvalid, s)
}

func dash(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

// erases reports whether a type removes data.
func (t Type) erases() bool {
	return t == TypeDelete || t == TypeDeleteDevice || t == TypeWithdraw || t == TypeCancel
}

// State is a request's lifecycle state.
type State string

// States.
const (
	StateReceived   State = "received"
	StateVerified   State = "verified"
	StateProcessing State = "processing"
	StateCompleted  State = "completed"
	StateRefused    State = "refused"
)

// Ground is a coded refusal ground; only these may refuse a request
// (RIGHTS-5, seed 004).
type Ground string

// Refusal grounds.
const (
	GroundRepeated     Ground = "unreasonably_repeated" // the same request was answered recently
	GroundExcessive    Ground = "excessive_technical_means"
	GroundRiskToOthers Ground = "risk_to_others"
	GroundImpractical  Ground = "impractical"
	// GroundLegal covers the legal exceptions: a legal hold (RETAIN-4),
	// national security, criminal investigation, a court.
	GroundLegal Ground = "legal_obligation"
	// GroundIdentity: the requester's identity could not be verified.
	GroundIdentity Ground = "identity_not_verified"
)

// Source is how a request arrived.
type Source string

// Sources.
const (
	SourceREST Source = "rest" // the app's backend with its admin UserSig (RIGHTS-7)
	SourceCLI  Source = "cli"  // an operator with the data directory
	SourceSDK  Source = "sdk"  // the signed-in user about themself
	// SourceSystem: Parley itself, e.g. erasing a minor's data received
	// without guardian consent (MINOR-1).
	SourceSystem Source = "system"
)

// Subject names whose data a request is about.
type Subject struct {
	SDKAppID uint32
	UserID   string
	// DeviceID is set only for delete_device.
	DeviceID string
}

// Request is one request with its lifecycle. It holds no personal data:
// the subject appears as a commitment.
type Request struct {
	ID       string `json:"id"`
	SDKAppID uint32 `json:"sdkappid"`
	Type     Type   `json:"type"`
	State    State  `json:"state"`
	Source   Source `json:"source"`
	// Subject is the commitment to the user id under the user's key.
	Subject string `json:"subject"`
	Ground  Ground `json:"ground,omitempty"`
	Message string `json:"message,omitempty"`

	ReceivedAt   time.Time `json:"received_at"`
	VerifiedAt   time.Time `json:"verified_at,omitzero"`
	ProcessingAt time.Time `json:"processing_at,omitzero"`
	FinishedAt   time.Time `json:"finished_at,omitzero"`
	// DueAt is 15 working days after ReceivedAt (RIGHTS-4).
	DueAt time.Time `json:"due_at"`

	// Receipt is the signed receipt of an erasure, or nil.
	Receipt json.RawMessage `json:"receipt,omitempty"`
	// AuditSeq is the audit-log record of the receipt (-1: none), for an
	// inclusion proof.
	AuditSeq int64 `json:"audit_seq"`
}

// StoreCount is one store's part of an answer.
type StoreCount struct {
	Store string `json:"store"`
	Label string `json:"label"`
	// Rows is the number of records exported, found or erased.
	Rows int64 `json:"rows"`
	// Readable is what verification found after an erasure (must be 0).
	Readable int64 `json:"readable_after"`
}

// Result is what a request returns beside its record.
type Result struct {
	Request Request `json:"request"`
	// Stores: per-store counts (access, erasures).
	Stores []StoreCount `json:"stores,omitempty"`
	// Export is the portable bundle (export only).
	Export *Bundle `json:"export,omitempty"`
	// Timings of an erasure, milliseconds.
	ShredMS float64 `json:"shred_ms,omitempty"`
	RowsMS  float64 `json:"row_deletion_ms,omitempty"`
}

// Bundle is a portable export: everything stored about the user, by
// store, with the inventory's labels (RIGHTS-1 "copy").
type Bundle struct {
	Format   string    `json:"format"` // "parley.dsr.export/v1"
	SDKAppID uint32    `json:"sdkappid"`
	UserID   string    `json:"user_id"`
	At       time.Time `json:"exported_at"`
	Stores   []Section `json:"stores"`
}

// Section is one store's records.
type Section struct {
	Store string `json:"store"`
	Label string `json:"label"`
	// Elements are the inventory elements kept in this store.
	Elements []Element `json:"elements"`
	Records  []any     `json:"records"`
}

// Element is an inventory element's id and label.
type Element struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// Correction is one user-declared field to correct.
type Correction struct {
	Field string `json:"field"`
	Value string `json:"value"`
}
