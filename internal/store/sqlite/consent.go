package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

var (
	_ store.PolicyStore  = (*DB)(nil)
	_ store.ConsentStore = (*DB)(nil)
)

// Ledger listing bounds.
const (
	DefaultConsentListLimit = 100
	MaxConsentListLimit     = 10000
)

const policyColumns = `seq, sdkappid, version, material, effective_at, summary, url, published_at`

// PublishPolicy implements store.PolicyStore. The row can never be changed
// afterwards: triggers abort UPDATE and DELETE (DISCLOSE-2).
func (db *DB) PublishPolicy(ctx context.Context, p store.Policy) (store.Policy, error) {
	if p.SDKAppID == 0 {
		return store.Policy{}, errors.New("sqlite: publish policy: sdkappid is zero")
	}
	err := db.write.QueryRowContext(ctx, `INSERT INTO policy_versions
		(sdkappid, version, material, effective_at, summary, url, published_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		int64(p.SDKAppID), p.Version, p.Material, p.EffectiveAt.UnixMicro(),
		p.Summary, p.URL, p.PublishedAt.UnixMicro()).Scan(&p.Seq)
	if err != nil {
		if isUniqueViolation(err) {
			return store.Policy{}, fmt.Errorf("app %d policy %q: %w", p.SDKAppID, p.Version, store.ErrConflict)
		}
		return store.Policy{}, fmt.Errorf("sqlite: publish policy %q of app %d: %w", p.Version, p.SDKAppID, err)
	}
	p.EffectiveAt = time.UnixMicro(p.EffectiveAt.UnixMicro()).UTC()
	p.PublishedAt = time.UnixMicro(p.PublishedAt.UnixMicro()).UTC()
	return p, nil
}

// ListPolicies implements store.PolicyStore.
func (db *DB) ListPolicies(ctx context.Context, sdkAppID uint32) ([]store.Policy, error) {
	rows, err := db.read.QueryContext(ctx,
		`SELECT `+policyColumns+` FROM policy_versions WHERE sdkappid = ? ORDER BY seq`, int64(sdkAppID))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list policies of app %d: %w", sdkAppID, err)
	}
	defer rows.Close()
	var ps []store.Policy
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list policies of app %d: %w", sdkAppID, err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list policies of app %d: %w", sdkAppID, err)
	}
	return ps, nil
}

// LatestMaterialPolicy implements store.PolicyStore.
func (db *DB) LatestMaterialPolicy(ctx context.Context, sdkAppID uint32, asOf time.Time) (store.Policy, error) {
	row := db.read.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM policy_versions
		WHERE sdkappid = ? AND material = 1 AND effective_at <= ?
		ORDER BY seq DESC LIMIT 1`, int64(sdkAppID), asOf.UnixMicro())
	p, err := scanPolicy(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Policy{}, fmt.Errorf("app %d material policy: %w", sdkAppID, store.ErrNotFound)
	}
	if err != nil {
		return store.Policy{}, fmt.Errorf("sqlite: latest material policy of app %d: %w", sdkAppID, err)
	}
	return p, nil
}

func scanPolicy(s scanner) (store.Policy, error) {
	var (
		p                    store.Policy
		id                   int64
		effective, published int64
	)
	if err := s.Scan(&p.Seq, &id, &p.Version, &p.Material, &effective, &p.Summary, &p.URL, &published); err != nil {
		return store.Policy{}, err
	}
	if id <= 0 || id > math.MaxUint32 {
		return store.Policy{}, fmt.Errorf("sdkappid %d out of range", id)
	}
	p.SDKAppID = uint32(id)
	p.EffectiveAt = time.UnixMicro(effective).UTC()
	p.PublishedAt = time.UnixMicro(published).UTC()
	return p, nil
}

const consentColumns = `id, sdkappid, user_id, device_id, action, policy_version, purposes,
	method, age_band, guardian_ref, recorded_at, device_granted_at`

const latestConsentQuery = `SELECT ` + consentColumns + ` FROM consent_ledger
	WHERE sdkappid = ? AND user_id = ? AND device_id = ? ORDER BY id DESC LIMIT 1`

// AppendConsent implements store.ConsentStore. The read of the latest entry
// and the insert share one write transaction (BEGIN IMMEDIATE), so two
// identical concurrent claims append once and a withdrawal is never lost
// between the comparison and the insert (CONSENT-3, CONSENT-5).
func (db *DB) AppendConsent(ctx context.Context, e store.ConsentEntry) (_ store.ConsentEntry, appended bool, err error) {
	if e.SDKAppID == 0 {
		return store.ConsentEntry{}, false, errors.New("sqlite: append consent: sdkappid is zero")
	}
	if !e.Action.Valid() {
		return store.ConsentEntry{}, false, fmt.Errorf("sqlite: append consent: unknown action %q", e.Action)
	}
	for _, p := range e.Purposes {
		if p == "" || strings.Contains(p, ",") {
			return store.ConsentEntry{}, false, fmt.Errorf("sqlite: append consent: purpose %q cannot be stored in a comma list", p)
		}
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return store.ConsentEntry{}, false, fmt.Errorf("sqlite: append consent: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}()
	latest, err := scanConsent(tx.QueryRowContext(ctx, latestConsentQuery, int64(e.SDKAppID), e.UserID, e.DeviceID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return store.ConsentEntry{}, false, fmt.Errorf("sqlite: append consent: read latest: %w", err)
	case latest.SameDecision(e):
		return latest, false, tx.Commit()
	}

	var granted sql.NullInt64
	if !e.DeviceGrantedAt.IsZero() {
		granted = sql.NullInt64{Int64: e.DeviceGrantedAt.UnixMicro(), Valid: true}
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO consent_ledger
		(sdkappid, user_id, device_id, action, policy_version, purposes, method,
		 age_band, guardian_ref, recorded_at, device_granted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		int64(e.SDKAppID), e.UserID, e.DeviceID, string(e.Action), e.PolicyVersion,
		strings.Join(e.Purposes, ","), e.Method, e.AgeBand, e.GuardianRef,
		e.RecordedAt.UnixMicro(), granted).Scan(&e.ID)
	if err != nil {
		return store.ConsentEntry{}, false, fmt.Errorf("sqlite: append consent: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return store.ConsentEntry{}, false, fmt.Errorf("sqlite: append consent: commit: %w", err)
	}
	e.RecordedAt = time.UnixMicro(e.RecordedAt.UnixMicro()).UTC()
	if granted.Valid {
		e.DeviceGrantedAt = time.UnixMicro(granted.Int64).UTC()
	}
	return e, true, nil
}

// LatestConsent implements store.ConsentStore.
func (db *DB) LatestConsent(ctx context.Context, sdkAppID uint32, userID, deviceID string) (store.ConsentEntry, error) {
	e, err := scanConsent(db.read.QueryRowContext(ctx, latestConsentQuery, int64(sdkAppID), userID, deviceID))
	if errors.Is(err, sql.ErrNoRows) {
		return store.ConsentEntry{}, fmt.Errorf("app %d consent: %w", sdkAppID, store.ErrNotFound)
	}
	if err != nil {
		return store.ConsentEntry{}, fmt.Errorf("sqlite: latest consent in app %d: %w", sdkAppID, err)
	}
	return e, nil
}

// ListConsent implements store.ConsentStore. A zero Limit means
// DefaultConsentListLimit; Limit is capped at MaxConsentListLimit.
func (db *DB) ListConsent(ctx context.Context, sdkAppID uint32, f store.ConsentFilter) ([]store.ConsentEntry, error) {
	var (
		q    strings.Builder
		args = []any{int64(sdkAppID)}
	)
	q.WriteString(`SELECT ` + consentColumns + ` FROM consent_ledger WHERE sdkappid = ?`)
	if f.UserID != "" {
		q.WriteString(` AND user_id = ?`)
		args = append(args, f.UserID)
	}
	if f.DeviceID != "" {
		q.WriteString(` AND device_id = ?`)
		args = append(args, f.DeviceID)
	}
	if !f.Since.IsZero() {
		q.WriteString(` AND recorded_at >= ?`)
		args = append(args, f.Since.UnixMicro())
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultConsentListLimit
	}
	limit = min(limit, MaxConsentListLimit)
	q.WriteString(` ORDER BY id DESC LIMIT ?`)
	args = append(args, limit)

	rows, err := db.read.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list consent of app %d: %w", sdkAppID, err)
	}
	defer rows.Close()
	var es []store.ConsentEntry
	for rows.Next() {
		e, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list consent of app %d: %w", sdkAppID, err)
		}
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list consent of app %d: %w", sdkAppID, err)
	}
	return es, nil
}

// ConsentStats implements store.ConsentStore.
func (db *DB) ConsentStats(ctx context.Context, sdkAppID uint32) (store.ConsentStats, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT l.action, COUNT(*) FROM consent_ledger l
		JOIN (SELECT MAX(id) AS id FROM consent_ledger WHERE sdkappid = ?
		      GROUP BY user_id, device_id) latest ON l.id = latest.id
		GROUP BY l.action`, int64(sdkAppID))
	if err != nil {
		return store.ConsentStats{}, fmt.Errorf("sqlite: consent stats of app %d: %w", sdkAppID, err)
	}
	defer rows.Close()
	var s store.ConsentStats
	for rows.Next() {
		var (
			action string
			n      int
		)
		if err := rows.Scan(&action, &n); err != nil {
			return store.ConsentStats{}, fmt.Errorf("sqlite: consent stats of app %d: %w", sdkAppID, err)
		}
		switch store.ConsentAction(action) {
		case store.ConsentGrant:
			s.Granted = n
		case store.ConsentWithdraw:
			s.Withdrawn = n
		}
	}
	if err := rows.Err(); err != nil {
		return store.ConsentStats{}, fmt.Errorf("sqlite: consent stats of app %d: %w", sdkAppID, err)
	}
	return s, nil
}

func scanConsent(s scanner) (store.ConsentEntry, error) {
	var (
		e                store.ConsentEntry
		id               int64
		action, purposes string
		recorded         int64
		granted          sql.NullInt64
	)
	err := s.Scan(&e.ID, &id, &e.UserID, &e.DeviceID, &action, &e.PolicyVersion, &purposes,
		&e.Method, &e.AgeBand, &e.GuardianRef, &recorded, &granted)
	if err != nil {
		return store.ConsentEntry{}, err
	}
	if id <= 0 || id > math.MaxUint32 {
		return store.ConsentEntry{}, fmt.Errorf("sdkappid %d out of range", id)
	}
	e.SDKAppID = uint32(id)
	e.Action = store.ConsentAction(action)
	if purposes != "" {
		e.Purposes = strings.Split(purposes, ",")
	}
	e.RecordedAt = time.UnixMicro(recorded).UTC()
	if granted.Valid {
		e.DeviceGrantedAt = time.UnixMicro(granted.Int64).UTC()
	}
	return e, nil
}
