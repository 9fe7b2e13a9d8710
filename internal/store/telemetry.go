package store

import (
	"context"
	"time"
)

// TelemetryRecord is one validated section of one telemetry report. It
// holds no direct identifier: users and devices appear only as per-app
// pseudonyms (PROMISES COLLECT-7), and no transport address is kept
// (COLLECT-2).
type TelemetryRecord struct {
	At        time.Time // server receive time; partition key (UTC day)
	SDKAppID  uint32
	RoomKey   string // protocol.RoomRef.Key()
	UserRef   []byte // HMAC pseudonym of the user id
	DeviceRef []byte // HMAC pseudonym of the device id
	Section   string // quality, streams, device, events
	Data      []byte // JSON object of inventory-validated fields
	// ID is the row's key as the store returned it (time-ordered): a
	// TelemetryQuery.After cursor. Ignored on insert.
	ID int64
	// UserID is the clear user id, used only to seal the device section
	// (device facts) under the user's data key; never stored. Empty
	// stores Data as given.
	UserID string
}

// SealedSection is the telemetry section whose data the store seals with
// the user's data key: device facts, which describe the person's device
// (model, OS, CPU …) and so go with the person when they are erased.
const SealedSection = "device"

// TelemetryQuery selects records of one app in [From, To).
type TelemetryQuery struct {
	SDKAppID uint32
	RoomKey  string // optional
	UserRef  []byte // optional
	Section  string // optional
	// Sections, when set, selects records of any of these sections
	// (with Section empty).
	Sections []string
	From, To time.Time
	Limit    int // 0 = 10,000
	// After, when not 0, is the ID of the last record of the previous
	// page: only records after it are returned (keyset paging).
	After int64
	// KeepErased returns records whose sealed data can no longer be
	// opened (the user's key was destroyed) with nil Data, instead of
	// leaving them out, so that a pager's cursor passes them.
	KeepErased bool
}

// TelemetryPartition is one day's table.
type TelemetryPartition struct {
	Day  time.Time // UTC midnight
	Rows int64
}

// TelemetryStore keeps telemetry in day partitions so retention drops a
// whole day at once (RETAIN-1: 14 days).
type TelemetryStore interface {
	InsertTelemetry(ctx context.Context, recs []TelemetryRecord) error
	QueryTelemetry(ctx context.Context, q TelemetryQuery) ([]TelemetryRecord, error)
	TelemetryPartitions(ctx context.Context) ([]TelemetryPartition, error)
	DropTelemetryPartition(ctx context.Context, day time.Time) error
}

// AuditEvent is an append-only record of a privacy-relevant event. It
// carries no personal information: names of fields, codes and counts.
type AuditEvent struct {
	At       time.Time
	SDKAppID uint32
	Kind     string // e.g. telemetry_rejected
	Detail   []byte // JSON
}

// AuditStore appends audit events. (The Merkle transparency log of a later
// issue is built over these entries.)
type AuditStore interface {
	AppendAudit(ctx context.Context, ev AuditEvent) error
	ListAudit(ctx context.Context, sdkAppID uint32, kind string, limit int) ([]AuditEvent, error)
}
