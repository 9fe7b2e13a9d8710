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

// The consent ledger keeps no identifier in clear (issue 5, item 2):
// user_id and device_id hold blind-index references (UserRef, DeviceRef),
// so the equality lookups below use the indexes as before; the clear
// device id and the guardian reference are sealed with the user's data
// key, bound to their row by the ledger id (consentAAD). An entry whose key
// was destroyed (ShredSubject) is erased: reads skip it, as if deleted.

// Limits the ledger enforced as CHECKs on clear columns; the columns now
// hold references and sealed values, so the store checks them.
const (
	maxConsentUserID   = 32
	maxConsentDeviceID = 64
	maxGuardianRef     = 128
)

const consentColumns = `id, sdkappid, user_id, device_sealed, action, policy_version, purposes,
	method, age_band, guardian_ref, recorded_at, device_granted_at`

const latestConsentQuery = `SELECT ` + consentColumns + ` FROM consent_ledger
	WHERE sdkappid = ? AND user_id = ? AND device_id = ? ORDER BY id DESC LIMIT 1`

// consentAAD binds a sealed ledger value to its column and row.
func consentAAD(column string, sdkAppID uint32, id int64) []byte {
	return fmt.Appendf(nil, "consent.%s/%d/%d", column, sdkAppID, id)
}

// consentRow is a ledger row as stored: the entry without its user id,
// device id and guardian reference, and what stands for them.
type consentRow struct {
	e        store.ConsentEntry
	userRef  string
	device   []byte // sealed
	guardian []byte // sealed; empty when there is none
}

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
	if err := checkConsentIDs(e.UserID, e.DeviceID); err != nil {
		return store.ConsentEntry{}, false, fmt.Errorf("sqlite: append consent: %w", err)
	}
	if len(e.GuardianRef) > maxGuardianRef {
		return store.ConsentEntry{}, false, fmt.Errorf("sqlite: append consent: guardian reference longer than %d bytes", maxGuardianRef)
	}
	if err := db.consentReady(ctx); err != nil {
		return store.ConsentEntry{}, false, fmt.Errorf("sqlite: append consent: %w", err)
	}
	// The key is created (committed) before the write transaction: the
	// single write connection cannot nest transactions.
	if err := db.ensureKeys(ctx, e.SDKAppID, e.UserID); err != nil {
		return store.ConsentEntry{}, false, fmt.Errorf("sqlite: append consent: %w", err)
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
	latest, err := db.latestConsent(ctx, tx, e.SDKAppID, e.UserID, e.DeviceID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return store.ConsentEntry{}, false, fmt.Errorf("sqlite: append consent: read latest: %w", err)
	case latest.SameDecision(e):
		return latest, false, tx.Commit()
	}

	// Rows are never updated, so the id the sealed values are bound to
	// is allocated first: AUTOINCREMENT's next value, computed under the
	// write lock this transaction holds.
	if err := tx.QueryRowContext(ctx, `SELECT max(
		COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'consent_ledger'), 0),
		COALESCE((SELECT max(id) FROM consent_ledger), 0)) + 1`).Scan(&e.ID); err != nil {
		return store.ConsentEntry{}, false, fmt.Errorf("sqlite: append consent: allocate id: %w", err)
	}
	if err := db.insertConsent(ctx, tx, e); err != nil {
		return store.ConsentEntry{}, false, fmt.Errorf("sqlite: append consent: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return store.ConsentEntry{}, false, fmt.Errorf("sqlite: append consent: commit: %w", err)
	}
	e.RecordedAt = time.UnixMicro(e.RecordedAt.UnixMicro()).UTC()
	if !e.DeviceGrantedAt.IsZero() {
		e.DeviceGrantedAt = time.UnixMicro(e.DeviceGrantedAt.UnixMicro()).UTC()
	}
	return e, true, nil
}

// checkConsentIDs enforces the identifier lengths the ledger allows.
func checkConsentIDs(userID, deviceID string) error {
	if len(userID) < 1 || len(userID) > maxConsentUserID {
		return fmt.Errorf("user id must be 1-%d bytes, got %d", maxConsentUserID, len(userID))
	}
	if len(deviceID) < 1 || len(deviceID) > maxConsentDeviceID {
		return fmt.Errorf("device id must be 1-%d bytes, got %d", maxConsentDeviceID, len(deviceID))
	}
	return nil
}

// insertConsent seals e's device id and guardian reference under its
// user's key (which must exist: ensureKeys) and inserts it with its ID.
func (db *DB) insertConsent(ctx context.Context, tx *sql.Tx, e store.ConsentEntry) error {
	device, err := db.sealFor(ctx, tx, e.SDKAppID, e.UserID, []byte(e.DeviceID), consentAAD("device", e.SDKAppID, e.ID))
	if err != nil {
		return fmt.Errorf("seal device id: %w", err)
	}
	var guardian []byte // NULL: stored as X''
	if e.GuardianRef != "" {
		if guardian, err = db.sealFor(ctx, tx, e.SDKAppID, e.UserID, []byte(e.GuardianRef), consentAAD("guardian", e.SDKAppID, e.ID)); err != nil {
			return fmt.Errorf("seal guardian reference: %w", err)
		}
	}
	var granted sql.NullInt64
	if !e.DeviceGrantedAt.IsZero() {
		granted = sql.NullInt64{Int64: e.DeviceGrantedAt.UnixMicro(), Valid: true}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO consent_ledger
		(id, sdkappid, user_id, device_id, device_sealed, action, policy_version, purposes, method,
		 age_band, guardian_ref, recorded_at, device_granted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(?, X''), ?, ?)`,
		e.ID, int64(e.SDKAppID), db.UserRef(e.SDKAppID, e.UserID), db.DeviceRef(e.SDKAppID, e.DeviceID), device,
		string(e.Action), e.PolicyVersion, strings.Join(e.Purposes, ","), e.Method, e.AgeBand, guardian,
		e.RecordedAt.UnixMicro(), granted)
	return err
}

// latestConsent reads the entry in force for (app, user, device) on q;
// store.ErrNotFound if there is none or it was erased.
func (db *DB) latestConsent(ctx context.Context, q queryer, sdkAppID uint32, userID, deviceID string) (store.ConsentEntry, error) {
	r, err := scanConsentRow(q.QueryRowContext(ctx, latestConsentQuery,
		int64(sdkAppID), db.UserRef(sdkAppID, userID), db.DeviceRef(sdkAppID, deviceID)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.ConsentEntry{}, fmt.Errorf("app %d consent: %w", sdkAppID, store.ErrNotFound)
	}
	if err != nil {
		return store.ConsentEntry{}, err
	}
	e, err := db.openConsent(ctx, q, r, userID)
	if errors.Is(err, store.ErrErased) {
		// Newer entries are sealed under newer keys: when the latest
		// is erased, all are.
		return store.ConsentEntry{}, fmt.Errorf("app %d consent: %w (%w)", sdkAppID, store.ErrNotFound, err)
	}
	return e, err
}

// openConsent completes a stored row: the user id (userID, or looked up
// from the row's reference when ""), the device id and the guardian
// reference. The error wraps store.ErrErased when the row's key is gone.
func (db *DB) openConsent(ctx context.Context, q queryer, r consentRow, userID string) (store.ConsentEntry, error) {
	e := r.e
	if userID == "" {
		u, err := db.userOf(ctx, q, e.SDKAppID, r.userRef)
		if err != nil {
			return store.ConsentEntry{}, fmt.Errorf("ledger entry %d: %w", e.ID, err)
		}
		userID = u
	}
	e.UserID = userID
	device, err := db.open(ctx, q, r.device, consentAAD("device", e.SDKAppID, e.ID))
	if err != nil {
		return store.ConsentEntry{}, fmt.Errorf("ledger entry %d: device id: %w", e.ID, err)
	}
	e.DeviceID = string(device)
	if len(r.guardian) > 0 {
		g, err := db.open(ctx, q, r.guardian, consentAAD("guardian", e.SDKAppID, e.ID))
		if err != nil {
			return store.ConsentEntry{}, fmt.Errorf("ledger entry %d: guardian reference: %w", e.ID, err)
		}
		e.GuardianRef = string(g)
	}
	return e, nil
}

// LatestConsent implements store.ConsentStore. An erased entry is not
// found.
func (db *DB) LatestConsent(ctx context.Context, sdkAppID uint32, userID, deviceID string) (store.ConsentEntry, error) {
	if err := db.consentReady(ctx); err != nil {
		return store.ConsentEntry{}, fmt.Errorf("sqlite: latest consent in app %d: %w", sdkAppID, err)
	}
	e, err := db.latestConsent(ctx, db.read, sdkAppID, userID, deviceID)
	if errors.Is(err, store.ErrNotFound) {
		return store.ConsentEntry{}, err
	}
	if err != nil {
		return store.ConsentEntry{}, fmt.Errorf("sqlite: latest consent in app %d: %w", sdkAppID, err)
	}
	return e, nil
}

// ListConsent implements store.ConsentStore. A zero Limit means
// DefaultConsentListLimit; Limit is capped at MaxConsentListLimit. Erased
// entries are skipped (and do not count towards the limit).
func (db *DB) ListConsent(ctx context.Context, sdkAppID uint32, f store.ConsentFilter) ([]store.ConsentEntry, error) {
	if err := db.consentReady(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: list consent of app %d: %w", sdkAppID, err)
	}
	var (
		q    strings.Builder
		args = []any{int64(sdkAppID)}
	)
	q.WriteString(`SELECT ` + consentColumns + ` FROM consent_ledger WHERE sdkappid = ?`)
	if f.UserID != "" {
		q.WriteString(` AND user_id = ?`)
		args = append(args, db.UserRef(sdkAppID, f.UserID))
	}
	if f.DeviceID != "" {
		q.WriteString(` AND device_id = ?`)
		args = append(args, db.DeviceRef(sdkAppID, f.DeviceID))
	}
	if !f.Since.IsZero() {
		q.WriteString(` AND recorded_at >= ?`)
		args = append(args, f.Since.UnixMicro())
	}
	q.WriteString(` AND id < ? ORDER BY id DESC LIMIT ?`)
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultConsentListLimit
	}
	limit = min(limit, MaxConsentListLimit)

	var es []store.ConsentEntry
	before := int64(math.MaxInt64)
	for len(es) < limit {
		page := limit - len(es)
		rs, err := db.consentRows(ctx, q.String(), append(args, before, page)...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list consent of app %d: %w", sdkAppID, err)
		}
		for _, r := range rs {
			e, err := db.openConsent(ctx, db.read, r, f.UserID)
			if errors.Is(err, store.ErrErased) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("sqlite: list consent of app %d: %w", sdkAppID, err)
			}
			es = append(es, e)
		}
		if len(rs) < page {
			break
		}
		before = rs[len(rs)-1].e.ID
	}
	return es, nil
}

// consentRows reads whole ledger rows, closing the result before any key
// is looked up (no read connection is held while waiting for another).
func (db *DB) consentRows(ctx context.Context, query string, args ...any) ([]consentRow, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs []consentRow
	for rows.Next() {
		r, err := scanConsentRow(rows)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// ConsentStats implements store.ConsentStore. A (user, device) whose latest
// entry was sealed under a destroyed key is erased and not counted.
func (db *DB) ConsentStats(ctx context.Context, sdkAppID uint32) (store.ConsentStats, error) {
	if err := db.consentReady(ctx); err != nil {
		return store.ConsentStats{}, fmt.Errorf("sqlite: consent stats of app %d: %w", sdkAppID, err)
	}
	// A sealed value starts with its key's 8-byte id; subject_keys names
	// the key in lowercase hex.
	rows, err := db.read.QueryContext(ctx, `SELECT l.action, COUNT(*) FROM consent_ledger l
		JOIN (SELECT MAX(id) AS id FROM consent_ledger WHERE sdkappid = ?
		      GROUP BY user_id, device_id) latest ON l.id = latest.id
		JOIN subject_keys k ON k.key_id = lower(hex(substr(l.device_sealed, 1, 8)))
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

func scanConsentRow(s scanner) (consentRow, error) {
	var (
		r                consentRow
		id               int64
		action, purposes string
		recorded         int64
		granted          sql.NullInt64
	)
	err := s.Scan(&r.e.ID, &id, &r.userRef, &r.device, &action, &r.e.PolicyVersion, &purposes,
		&r.e.Method, &r.e.AgeBand, &r.guardian, &recorded, &granted)
	if err != nil {
		return consentRow{}, err
	}
	if id <= 0 || id > math.MaxUint32 {
		return consentRow{}, fmt.Errorf("sdkappid %d out of range", id)
	}
	r.e.SDKAppID = uint32(id)
	r.e.Action = store.ConsentAction(action)
	if purposes != "" {
		r.e.Purposes = strings.Split(purposes, ",")
	}
	r.e.RecordedAt = time.UnixMicro(recorded).UTC()
	if granted.Valid {
		r.e.DeviceGrantedAt = time.UnixMicro(granted.Int64).UTC()
	}
	return r, nil
}
