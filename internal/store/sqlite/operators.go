package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

var _ store.OperatorStore = (*DB)(nil)

const operatorColumns = `id, name, role, password_hash, created_at, disabled_at`

func scanOperator(sc interface{ Scan(...any) error }) (store.Operator, error) {
	var o store.Operator
	var created int64
	var disabled sql.NullInt64
	if err := sc.Scan(&o.ID, &o.Name, &o.Role, &o.PasswordHash, &created, &disabled); err != nil {
		return store.Operator{}, err
	}
	o.CreatedAt = time.UnixMilli(created).UTC()
	if disabled.Valid {
		o.DisabledAt = time.UnixMilli(disabled.Int64).UTC()
	}
	return o, nil
}

// CreateOperator implements store.OperatorStore.
func (db *DB) CreateOperator(ctx context.Context, o store.Operator) (store.Operator, error) {
	var disabled any
	if !o.DisabledAt.IsZero() {
		disabled = o.DisabledAt.UnixMilli()
	}
	err := db.write.QueryRowContext(ctx, `INSERT INTO operators (name, role, password_hash, created_at, disabled_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`, o.Name, o.Role, o.PasswordHash, o.CreatedAt.UnixMilli(), disabled).Scan(&o.ID)
	if err != nil {
		if isUniqueViolation(err) {
			return store.Operator{}, fmt.Errorf("operator name: %w", store.ErrConflict)
		}
		return store.Operator{}, fmt.Errorf("sqlite: create operator: %w", err)
	}
	o.CreatedAt = time.UnixMilli(o.CreatedAt.UnixMilli()).UTC()
	if !o.DisabledAt.IsZero() {
		o.DisabledAt = time.UnixMilli(o.DisabledAt.UnixMilli()).UTC()
	}
	return o, nil
}

// GetOperator implements store.OperatorStore.
func (db *DB) GetOperator(ctx context.Context, id int64) (store.Operator, error) {
	o, err := scanOperator(db.read.QueryRowContext(ctx, `SELECT `+operatorColumns+` FROM operators WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Operator{}, fmt.Errorf("operator %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Operator{}, fmt.Errorf("sqlite: get operator %d: %w", id, err)
	}
	return o, nil
}

// GetOperatorByName implements store.OperatorStore. The name is not put
// in errors: callers decide what to show.
func (db *DB) GetOperatorByName(ctx context.Context, name string) (store.Operator, error) {
	o, err := scanOperator(db.read.QueryRowContext(ctx, `SELECT `+operatorColumns+` FROM operators WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Operator{}, fmt.Errorf("operator: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Operator{}, fmt.Errorf("sqlite: get operator by name: %w", err)
	}
	return o, nil
}

// ListOperators implements store.OperatorStore.
func (db *DB) ListOperators(ctx context.Context) ([]store.Operator, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+operatorColumns+` FROM operators ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list operators: %w", err)
	}
	defer rows.Close()
	var out []store.Operator
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list operators: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list operators: %w", err)
	}
	return out, nil
}

// inWriteTx runs fn in a write transaction.
func (db *DB) inWriteTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: commit: %w", what, err)
	}
	return nil
}

// activeRole returns an active operator's role; ErrNotFound if there is
// no active operator with that id.
func activeRole(ctx context.Context, tx *sql.Tx, id int64) (string, error) {
	var role string
	err := tx.QueryRowContext(ctx, `SELECT role FROM operators WHERE id = ? AND disabled_at IS NULL`, id).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("active operator %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: operator %d: %w", id, err)
	}
	return role, nil
}

// DisableOperator implements store.OperatorStore.
func (db *DB) DisableOperator(ctx context.Context, id int64, at time.Time) error {
	return db.inWriteTx(ctx, "disable operator", func(tx *sql.Tx) error {
		role, err := activeRole(ctx, tx, id)
		if err != nil {
			return err
		}
		if role == "owner" {
			var owners int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM operators WHERE role = 'owner' AND disabled_at IS NULL`).Scan(&owners); err != nil {
				return fmt.Errorf("sqlite: count owners: %w", err)
			}
			if owners <= 1 {
				return fmt.Errorf("operator %d is the last active owner: %w", id, store.ErrConflict)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE operators SET disabled_at = ? WHERE id = ?`, at.UnixMilli(), id); err != nil {
			return fmt.Errorf("sqlite: disable operator %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM operator_sessions WHERE operator_id = ?`, id); err != nil {
			return fmt.Errorf("sqlite: end sessions of operator %d: %w", id, err)
		}
		return nil
	})
}

// SetOperatorPassword implements store.OperatorStore.
func (db *DB) SetOperatorPassword(ctx context.Context, id int64, hash string) error {
	return db.inWriteTx(ctx, "set operator password", func(tx *sql.Tx) error {
		if _, err := activeRole(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE operators SET password_hash = ? WHERE id = ?`, hash, id); err != nil {
			return fmt.Errorf("sqlite: set password of operator %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM operator_sessions WHERE operator_id = ?`, id); err != nil {
			return fmt.Errorf("sqlite: end sessions of operator %d: %w", id, err)
		}
		return nil
	})
}

// CreateOperatorSession implements store.OperatorStore: the insert
// succeeds only while the operator is active.
func (db *DB) CreateOperatorSession(ctx context.Context, s store.OperatorSession) error {
	res, err := db.write.ExecContext(ctx, `INSERT INTO operator_sessions (token_hash, operator_id, created_at, expires_at)
		SELECT ?, id, ?, ? FROM operators WHERE id = ? AND disabled_at IS NULL`,
		s.TokenHash[:], s.CreatedAt.UnixMilli(), s.ExpiresAt.UnixMilli(), s.OperatorID)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("operator session: %w", store.ErrConflict)
		}
		return fmt.Errorf("sqlite: create operator session: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: create operator session: %w", err)
	} else if n == 0 {
		return fmt.Errorf("active operator %d: %w", s.OperatorID, store.ErrNotFound)
	}
	return nil
}

// GetOperatorSession implements store.OperatorStore.
func (db *DB) GetOperatorSession(ctx context.Context, tokenHash [32]byte) (store.OperatorSession, error) {
	s := store.OperatorSession{TokenHash: tokenHash}
	var created, expires int64
	err := db.read.QueryRowContext(ctx, `SELECT operator_id, created_at, expires_at FROM operator_sessions WHERE token_hash = ?`,
		tokenHash[:]).Scan(&s.OperatorID, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return store.OperatorSession{}, fmt.Errorf("operator session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.OperatorSession{}, fmt.Errorf("sqlite: get operator session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt = time.UnixMilli(created).UTC(), time.UnixMilli(expires).UTC()
	return s, nil
}

// DeleteOperatorSession implements store.OperatorStore.
func (db *DB) DeleteOperatorSession(ctx context.Context, tokenHash [32]byte) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM operator_sessions WHERE token_hash = ?`, tokenHash[:]); err != nil {
		return fmt.Errorf("sqlite: delete operator session: %w", err)
	}
	return nil
}

// DeleteOperatorSessionsBefore implements store.OperatorStore.
func (db *DB) DeleteOperatorSessionsBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM operator_sessions WHERE expires_at < ?`, t.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired operator sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired operator sessions: %w", err)
	}
	return n, nil
}
