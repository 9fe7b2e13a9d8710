package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

var _ store.IncidentStore = (*DB)(nil)

// maxCountPartitions bounds the telemetry partitions one count unions
// (SQLite's compound-select limit is 500); retention keeps about 15.
const maxCountPartitions = 400

// linkedUserQuery is one linked source's user column and time bound.
// Units differ per table: the consent ledger and messages keep Unix
// microseconds, push tokens Unix milliseconds.
var linkedUserQuery = map[store.UserSource]struct {
	sql   string // selects the user column; args: sdkappid, from, to
	micro bool
}{
	store.UserSourceConsent:    {`SELECT user_id AS u FROM consent_ledger WHERE sdkappid = ? AND recorded_at BETWEEN ? AND ?`, true},
	store.UserSourceMessages:   {`SELECT sender AS u FROM im_messages WHERE sdkappid = ? AND at BETWEEN ? AND ? AND erased = 0 AND sender <> ''`, true},
	store.UserSourcePushTokens: {`SELECT user_id AS u FROM im_push_tokens WHERE sdkappid = ? AND registered_at BETWEEN ? AND ?`, false},
}

// bounds converts the query window to a table's unit.
func bounds(q store.IncidentUserQuery, micro bool) (from, to int64) {
	from, to = math.MinInt64, math.MaxInt64
	if micro {
		if !q.Since.IsZero() {
			from = q.Since.UnixMicro()
		}
		if !q.Until.IsZero() {
			to = q.Until.UnixMicro()
		}
		return from, to
	}
	if !q.Since.IsZero() {
		from = q.Since.UnixMilli()
	}
	if !q.Until.IsZero() {
		to = q.Until.UnixMilli()
	}
	return from, to
}

// CountIncidentUsers implements store.IncidentStore. Identifiers never
// leave SQLite: every statement returns a count.
func (db *DB) CountIncidentUsers(ctx context.Context, q store.IncidentUserQuery) (store.IncidentUserCounts, error) {
	out := store.IncidentUserCounts{BySource: map[store.UserSource]int64{}}
	var union []string
	var unionArgs []any
	for _, src := range q.Sources {
		if !src.Valid() {
			return store.IncidentUserCounts{}, fmt.Errorf("sqlite: count incident users: unknown source %q", src)
		}
		if _, done := out.BySource[src]; done {
			continue
		}
		if src == store.UserSourceTelemetry {
			n, err := db.countTelemetryUsers(ctx, q)
			if err != nil {
				return store.IncidentUserCounts{}, err
			}
			out.BySource[src] = n
			continue
		}
		lq := linkedUserQuery[src]
		from, to := bounds(q, lq.micro)
		args := []any{int64(q.SDKAppID), from, to}
		var n int64
		if err := db.read.QueryRowContext(ctx, `SELECT COUNT(DISTINCT u) FROM (`+lq.sql+`)`, args...).Scan(&n); err != nil {
			return store.IncidentUserCounts{}, fmt.Errorf("sqlite: count users in %s: %w", src, err)
		}
		out.BySource[src] = n
		union = append(union, lq.sql)
		unionArgs = append(unionArgs, args...)
	}
	if len(union) > 0 {
		// UNION removes duplicates across the sources; DISTINCT within a
		// single one.
		if err := db.read.QueryRowContext(ctx, `SELECT COUNT(DISTINCT u) FROM (`+strings.Join(union, " UNION ")+`)`, unionArgs...).Scan(&out.Linked); err != nil {
			return store.IncidentUserCounts{}, fmt.Errorf("sqlite: count linked users: %w", err)
		}
	}
	return out, nil
}

// countTelemetryUsers counts distinct user pseudonyms across the day
// partitions of the window. Row ids are time-ordered (telemetryID), so
// the window is an id range on each table's primary key.
func (db *DB) countTelemetryUsers(ctx context.Context, q store.IncidentUserQuery) (int64, error) {
	from, to := q.Since, q.Until
	if from.IsZero() {
		from = time.Unix(0, 0)
	}
	if to.IsZero() {
		to = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC) // no upper bound
	}
	names, err := db.partitionsBetween(ctx, from, to)
	if err != nil {
		return 0, err
	}
	if len(names) == 0 {
		return 0, nil
	}
	if len(names) > maxCountPartitions {
		return 0, fmt.Errorf("sqlite: count telemetry users: %d day partitions in the window, at most %d (give a later --since)", len(names), maxCountPartitions)
	}
	lo, hi := idAt(from), idAt(to)+(1<<idSeqBits)-1
	parts := make([]string, len(names))
	var args []any
	for i, name := range names {
		// name comes from the partition registry, written only with
		// partitionName's output.
		parts[i] = `SELECT user_ref FROM ` + name + ` WHERE sdkappid = ? AND id BETWEEN ? AND ?`
		args = append(args, int64(q.SDKAppID), lo, hi)
	}
	var n int64
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(DISTINCT user_ref) FROM (`+strings.Join(parts, " UNION ")+`)`, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count telemetry users: %w", err)
	}
	return n, nil
}

// CreateIncident implements store.IncidentStore.
func (db *DB) CreateIncident(ctx context.Context, inc store.Incident) (store.Incident, error) {
	cats, err := json.Marshal(nonNil(inc.Categories))
	if err != nil {
		return store.Incident{}, fmt.Errorf("sqlite: create incident: %w", err)
	}
	var since any
	if !inc.Since.IsZero() {
		since = inc.Since.UnixMilli()
	}
	err = db.inWriteTx(ctx, "create incident", func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO incidents
			(declared_at, since_at, what_happened, impact, measures, advice, remedies, contact, categories)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			inc.DeclaredAt.UnixMilli(), since, inc.WhatHappened, inc.Impact, inc.Measures, inc.Advice,
			inc.Remedies, inc.Contact, string(cats)).Scan(&inc.ID); err != nil {
			return fmt.Errorf("sqlite: create incident: %w", err)
		}
		for i := range inc.Apps {
			a := &inc.Apps[i]
			by, err := json.Marshal(bySourceJSON(a.UsersBySource))
			if err != nil {
				return fmt.Errorf("sqlite: create incident: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO incident_apps
				(incident_id, sdkappid, affected_users, affected_users_min, users_by_source) VALUES (?, ?, ?, ?, ?)`,
				inc.ID, int64(a.SDKAppID), a.AffectedUsers, a.AffectedUsersMin, string(by)); err != nil {
				if isUniqueViolation(err) {
					return fmt.Errorf("incident app %d listed twice: %w", a.SDKAppID, store.ErrConflict)
				}
				return fmt.Errorf("sqlite: create incident app %d: %w", a.SDKAppID, err)
			}
			a.Notice, a.AuditSeq, a.NotifiedAt = store.IncidentNoticePending, -1, time.Time{}
		}
		return nil
	})
	if err != nil {
		return store.Incident{}, err
	}
	inc.DeclaredAt = time.UnixMilli(inc.DeclaredAt.UnixMilli()).UTC()
	if !inc.Since.IsZero() {
		inc.Since = time.UnixMilli(inc.Since.UnixMilli()).UTC()
	}
	return inc, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func bySourceJSON(m map[store.UserSource]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[string(k)] = v
	}
	return out
}

// SetIncidentAppNotice implements store.IncidentStore.
func (db *DB) SetIncidentAppNotice(ctx context.Context, id int64, sdkAppID uint32, n store.IncidentNotice, auditSeq int64, at time.Time) error {
	if !n.Valid() {
		return fmt.Errorf("sqlite: incident notice %q", n)
	}
	var seq any
	if auditSeq >= 0 {
		seq = auditSeq
	}
	res, err := db.write.ExecContext(ctx, `UPDATE incident_apps SET notice = ?, audit_seq = ?, notified_at = ?
		WHERE incident_id = ? AND sdkappid = ?`, string(n), seq, at.UnixMilli(), id, int64(sdkAppID))
	if err != nil {
		return fmt.Errorf("sqlite: incident %d app %d notice: %w", id, sdkAppID, err)
	}
	if k, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: incident %d app %d notice: %w", id, sdkAppID, err)
	} else if k == 0 {
		return fmt.Errorf("incident %d app %d: %w", id, sdkAppID, store.ErrNotFound)
	}
	return nil
}

const incidentColumns = `id, declared_at, since_at, what_happened, impact, measures, advice, remedies, contact, categories`

func scanIncident(sc scanner) (store.Incident, error) {
	var inc store.Incident
	var declared int64
	var since sql.NullInt64
	var cats string
	if err := sc.Scan(&inc.ID, &declared, &since, &inc.WhatHappened, &inc.Impact, &inc.Measures, &inc.Advice,
		&inc.Remedies, &inc.Contact, &cats); err != nil {
		return store.Incident{}, err
	}
	inc.DeclaredAt = time.UnixMilli(declared).UTC()
	if since.Valid {
		inc.Since = time.UnixMilli(since.Int64).UTC()
	}
	if err := json.Unmarshal([]byte(cats), &inc.Categories); err != nil {
		return store.Incident{}, fmt.Errorf("categories of incident %d: %w", inc.ID, err)
	}
	return inc, nil
}

// GetIncident implements store.IncidentStore.
func (db *DB) GetIncident(ctx context.Context, id int64) (store.Incident, error) {
	inc, err := scanIncident(db.read.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Incident{}, fmt.Errorf("incident %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Incident{}, fmt.Errorf("sqlite: get incident %d: %w", id, err)
	}
	if inc.Apps, err = db.incidentApps(ctx, id); err != nil {
		return store.Incident{}, err
	}
	return inc, nil
}

// ListIncidents implements store.IncidentStore.
func (db *DB) ListIncidents(ctx context.Context, limit int) ([]store.Incident, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+incidentColumns+` FROM incidents ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list incidents: %w", err)
	}
	var out []store.Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: list incidents: %w", err)
		}
		out = append(out, inc)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("sqlite: list incidents: %w", err)
	}
	for i := range out {
		if out[i].Apps, err = db.incidentApps(ctx, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (db *DB) incidentApps(ctx context.Context, id int64) ([]store.IncidentApp, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT sdkappid, affected_users, affected_users_min, users_by_source, notice, audit_seq, notified_at
		FROM incident_apps WHERE incident_id = ? ORDER BY sdkappid`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: apps of incident %d: %w", id, err)
	}
	defer rows.Close()
	var out []store.IncidentApp
	for rows.Next() {
		var (
			a          store.IncidentApp
			app        int64
			by, notice string
			seq, at    sql.NullInt64
		)
		if err := rows.Scan(&app, &a.AffectedUsers, &a.AffectedUsersMin, &by, &notice, &seq, &at); err != nil {
			return nil, fmt.Errorf("sqlite: apps of incident %d: %w", id, err)
		}
		a.SDKAppID, a.Notice, a.AuditSeq = uint32(app), store.IncidentNotice(notice), -1
		if seq.Valid {
			a.AuditSeq = seq.Int64
		}
		if at.Valid {
			a.NotifiedAt = time.UnixMilli(at.Int64).UTC()
		}
		var m map[string]int64
		if err := json.Unmarshal([]byte(by), &m); err != nil {
			return nil, fmt.Errorf("sqlite: apps of incident %d: users_by_source: %w", id, err)
		}
		a.UsersBySource = make(map[store.UserSource]int64, len(m))
		for k, v := range m {
			a.UsersBySource[store.UserSource(k)] = v
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: apps of incident %d: %w", id, err)
	}
	return out, nil
}

// WebhookByEventID implements store.IncidentStore.
func (db *DB) WebhookByEventID(ctx context.Context, sdkAppID uint32, eventID string) (store.Webhook, error) {
	w, err := db.scanWebhook(db.read.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhook_outbox WHERE sdkappid = ? AND event_id = ?`,
		int64(sdkAppID), eventID))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Webhook{}, fmt.Errorf("webhook event %q of app %d: %w", eventID, sdkAppID, store.ErrNotFound)
	}
	if err != nil {
		return store.Webhook{}, fmt.Errorf("sqlite: webhook event of app %d: %w", sdkAppID, err)
	}
	return w, nil
}
