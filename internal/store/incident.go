package store

import (
	"context"
	"time"
)

// UserSource is a store whose rows name a user, counted when an incident
// touches it. The values are the inventory's store names.
type UserSource string

// User sources.
const (
	// UserSourceTelemetry: telemetry day partitions (user_ref, the
	// per-app pseudonym of the user id).
	UserSourceTelemetry UserSource = "quality_logs"
	// UserSourceConsent: the consent ledger (user_id).
	UserSourceConsent UserSource = "consent_ledger"
	// UserSourceMessages: message history (im_messages.sender), without
	// erased messages.
	UserSourceMessages UserSource = "messages"
	// UserSourcePushTokens: offline push tokens (im_push_tokens.user_id).
	UserSourcePushTokens UserSource = "im_sessions"
)

// Valid reports whether s is a known source.
func (s UserSource) Valid() bool {
	switch s {
	case UserSourceTelemetry, UserSourceConsent, UserSourceMessages, UserSourcePushTokens:
		return true
	}
	return false
}

// Linked reports whether s keeps users in the same form as the other
// linked sources (the user-id column, plain or blind-indexed alike), so
// that distinct users can be counted across them. Telemetry keeps a
// binary pseudonym instead and is counted on its own.
func (s UserSource) Linked() bool { return s.Valid() && s != UserSourceTelemetry }

// IncidentUserQuery asks how many distinct users one app has stored rows
// for in some sources, recorded in [Since, Until]. Zero Since means no
// lower bound.
type IncidentUserQuery struct {
	SDKAppID uint32
	Sources  []UserSource
	Since    time.Time
	Until    time.Time
}

// IncidentUserCounts are distinct-user counts; the store never returns
// or logs the identifiers it counted.
type IncidentUserCounts struct {
	// BySource is the distinct users of each queried source.
	BySource map[UserSource]int64
	// Linked is the distinct users across all queried linked sources
	// together (a user in two of them counts once).
	Linked int64
}

// IncidentNotice is how an affected app was told about an incident.
type IncidentNotice string

// Incident notices.
const (
	// IncidentNoticePending: recorded, notification not done yet (the
	// declaration was interrupted; `parley incident notify` finishes it).
	IncidentNoticePending IncidentNotice = "pending"
	// IncidentNoticeWebhook: a signed callback is in the webhook outbox.
	IncidentNoticeWebhook IncidentNotice = "webhook"
	// IncidentNoticeNoCallback: the app has no callback configured; the
	// console notice (the incidents table) is all it has.
	IncidentNoticeNoCallback IncidentNotice = "no_callback"
)

// Valid reports whether n is a known notice.
func (n IncidentNotice) Valid() bool {
	return n == IncidentNoticePending || n == IncidentNoticeWebhook || n == IncidentNoticeNoCallback
}

// IncidentApp is one affected app of an incident.
type IncidentApp struct {
	SDKAppID uint32
	// AffectedUsers is the upper bound reported to the app;
	// AffectedUsersMin the lower bound (see package incident).
	AffectedUsers    int64
	AffectedUsersMin int64
	UsersBySource    map[UserSource]int64
	Notice           IncidentNotice
	// AuditSeq is the seq of the app's audit-log record, -1 before it is
	// written.
	AuditSeq int64
	// NotifiedAt is when Notice was last set (zero while pending).
	NotifiedAt time.Time
}

// Incident is a declared security incident (SEC-3). Text fields are what
// the operator wrote for the notification; none holds personal data by
// contract (the CLI says so).
type Incident struct {
	// ID is assigned by the store and never reused.
	ID         int64
	DeclaredAt time.Time // millisecond precision
	// Since is the start of the window; zero means every stored record.
	Since        time.Time
	WhatHappened string
	Impact       string
	Measures     string
	Advice       string
	Remedies     string
	Contact      string
	// Categories are inventory element ids, sorted.
	Categories []string
	Apps       []IncidentApp // ordered by SDKAppID
}

// IncidentStore keeps declared incidents and counts affected users.
type IncidentStore interface {
	// CountIncidentUsers counts distinct users in q's sources.
	CountIncidentUsers(ctx context.Context, q IncidentUserQuery) (IncidentUserCounts, error)
	// CreateIncident inserts inc with its apps (Notice pending, AuditSeq
	// -1) in one transaction and returns it with ID set.
	CreateIncident(ctx context.Context, inc Incident) (Incident, error)
	// SetIncidentAppNotice records how an app was notified and its audit
	// record; ErrNotFound if the incident has no such app.
	SetIncidentAppNotice(ctx context.Context, id int64, sdkAppID uint32, n IncidentNotice, auditSeq int64, at time.Time) error
	// GetIncident returns one incident; ErrNotFound if absent.
	GetIncident(ctx context.Context, id int64) (Incident, error)
	// ListIncidents returns up to limit incidents, newest first.
	ListIncidents(ctx context.Context, limit int) ([]Incident, error)
	// WebhookByEventID returns the outbox row of an app's event;
	// ErrNotFound if there is none (never enqueued, or removed by
	// retention).
	WebhookByEventID(ctx context.Context, sdkAppID uint32, eventID string) (Webhook, error)
}
