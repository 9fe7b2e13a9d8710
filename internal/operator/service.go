package operator

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

// SessionTTL is how long a console session lasts from login.
const SessionTTL = 12 * time.Hour

// MaxNameLen bounds an operator name.
const MaxNameLen = 64

// tokenSize is the session token's length in random bytes.
const tokenSize = 32

// Operator is an account without its password hash.
type Operator struct {
	ID         int64
	Name       string
	Role       Role
	CreatedAt  time.Time
	DisabledAt time.Time // zero while active
}

// Disabled reports whether the account was disabled.
func (o Operator) Disabled() bool { return !o.DisabledAt.IsZero() }

func fromRow(r store.Operator) Operator {
	return Operator{ID: r.ID, Name: r.Name, Role: Role(r.Role), CreatedAt: r.CreatedAt, DisabledAt: r.DisabledAt}
}

// Session is a login: the token is given to the client once and only its
// SHA-256 is stored.
type Session struct {
	Token     string // base64url of 32 random bytes
	Operator  Operator
	ExpiresAt time.Time
}

// Options tune a Service; the zero value is production.
type Options struct {
	Now    func() time.Time // nil: time.Now
	Logger *slog.Logger     // nil: discard
	// Iterations of new password hashes; 0 means DefaultIterations.
	// Tests lower it to stay fast.
	Iterations int
}

// Service manages operators and their sessions. Safe for concurrent use.
type Service struct {
	st    store.OperatorStore
	now   func() time.Time
	log   *slog.Logger
	iter  int
	limit *loginLimiter

	dummyOnce sync.Once
	dummy     string // hash checked for unknown names, so they take as long
}

// New builds the service.
func New(st store.OperatorStore, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Iterations <= 0 {
		o.Iterations = DefaultIterations
	}
	return &Service{st: st, now: o.Now, log: o.Logger.With("component", "operator"), iter: o.Iterations, limit: newLoginLimiter()}
}

// ValidateName checks an operator name: 1-64 ASCII letters, digits and
// ". _ - @", starting with a letter or digit.
func ValidateName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("%w: name must be 1-%d characters", ErrInvalid, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '.' && c != '_' && c != '-' && c != '@')) {
			return fmt.Errorf("%w: name must be ASCII letters, digits and . _ - @, starting with a letter or digit", ErrInvalid)
		}
	}
	return nil
}

// Create adds an operator. The first operator of a data directory must
// be an owner.
func (s *Service) Create(ctx context.Context, name string, role Role, password string) (Operator, error) {
	if err := ValidateName(name); err != nil {
		return Operator{}, err
	}
	if !role.Valid() {
		_, err := ParseRole(string(role))
		return Operator{}, err
	}
	if err := ValidatePassword(password); err != nil {
		return Operator{}, err
	}
	if role != RoleOwner {
		all, err := s.st.ListOperators(ctx)
		if err != nil {
			return Operator{}, fmt.Errorf("operator: create: %w", err)
		}
		if len(all) == 0 {
			return Operator{}, ErrFirstOwner
		}
	}
	hash, err := HashPassword(password, s.iter)
	if err != nil {
		return Operator{}, err
	}
	row, err := s.st.CreateOperator(ctx, store.Operator{Name: name, Role: string(role), PasswordHash: hash, CreatedAt: s.now()})
	if errors.Is(err, store.ErrConflict) {
		return Operator{}, fmt.Errorf("%w: %q", ErrExists, name)
	}
	if err != nil {
		return Operator{}, fmt.Errorf("operator: create: %w", err)
	}
	s.log.Info("operator created", "operator_id", row.ID, "role", row.Role)
	return fromRow(row), nil
}

// List returns every operator, disabled ones included, by id.
func (s *Service) List(ctx context.Context) ([]Operator, error) {
	rows, err := s.st.ListOperators(ctx)
	if err != nil {
		return nil, fmt.Errorf("operator: list: %w", err)
	}
	out := make([]Operator, len(rows))
	for i, r := range rows {
		out[i] = fromRow(r)
	}
	return out, nil
}

// Get returns an operator by name.
func (s *Service) Get(ctx context.Context, name string) (Operator, error) {
	row, err := s.st.GetOperatorByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return Operator{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if err != nil {
		return Operator{}, fmt.Errorf("operator: get: %w", err)
	}
	return fromRow(row), nil
}

// Disable disables an active operator and ends their sessions. The last
// active owner cannot be disabled.
func (s *Service) Disable(ctx context.Context, name string) (Operator, error) {
	o, err := s.Get(ctx, name)
	if err != nil {
		return Operator{}, err
	}
	if o.Disabled() {
		return Operator{}, fmt.Errorf("%w: %q is already disabled", ErrNotFound, name)
	}
	err = s.st.DisableOperator(ctx, o.ID, s.now())
	switch {
	case errors.Is(err, store.ErrConflict):
		return Operator{}, fmt.Errorf("%w (%q): create or keep another owner first", ErrLastOwner, name)
	case errors.Is(err, store.ErrNotFound):
		return Operator{}, fmt.Errorf("%w: %q is not active", ErrNotFound, name)
	case err != nil:
		return Operator{}, fmt.Errorf("operator: disable: %w", err)
	}
	s.log.Info("operator disabled", "operator_id", o.ID)
	return s.Get(ctx, name)
}

// SetPassword replaces an active operator's password and ends their
// sessions.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	if err := ValidatePassword(password); err != nil {
		return err
	}
	o, err := s.Get(ctx, name)
	if err != nil {
		return err
	}
	hash, err := HashPassword(password, s.iter)
	if err != nil {
		return err
	}
	if err := s.st.SetOperatorPassword(ctx, o.ID, hash); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %q is not active", ErrNotFound, name)
	} else if err != nil {
		return fmt.Errorf("operator: set password: %w", err)
	}
	s.log.Info("operator password changed", "operator_id", o.ID)
	return nil
}

// dummyHash is checked against when the name is unknown or disabled, so
// a wrong name costs as much as a wrong password.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() {
		h, err := HashPassword(NewPassword(), s.iter)
		if err == nil {
			s.dummy = h
		}
	})
	return s.dummy
}

// Login checks a name and password and opens a session. Attempts are
// rate-limited per name (*RateLimitError); a wrong name, a wrong
// password and a disabled account are the same ErrBadCredentials.
func (s *Service) Login(ctx context.Context, name, password string) (Session, error) {
	now := s.now()
	if err := s.limit.allow(name, now); err != nil {
		s.log.Warn("operator login rate-limited")
		return Session{}, err
	}
	row, err := s.st.GetOperatorByName(ctx, name)
	known := err == nil && !row.Disabled()
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Session{}, fmt.Errorf("operator: login: %w", err)
	}
	hash := row.PasswordHash
	if !known {
		hash = s.dummyHash()
	}
	ok, err := CheckPassword(hash, password)
	if err != nil {
		// A corrupt stored hash: refuse, and say so in the log (no name).
		s.log.Error("operator login: stored password hash unreadable", "operator_id", row.ID, "err", err)
		return Session{}, ErrBadCredentials
	}
	if !ok || !known {
		s.log.Info("operator login failed")
		return Session{}, ErrBadCredentials
	}
	// Expired sessions go at each login: the table stays small.
	if _, err := s.st.DeleteOperatorSessionsBefore(ctx, now); err != nil {
		s.log.Warn("operator: expired sessions not deleted", "err", err)
	}
	var raw [tokenSize]byte
	_, _ = rand.Read(raw[:])
	sess := store.OperatorSession{TokenHash: sha256.Sum256(raw[:]), OperatorID: row.ID, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := s.st.CreateOperatorSession(ctx, sess); errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrBadCredentials // disabled in between
	} else if err != nil {
		return Session{}, fmt.Errorf("operator: login: %w", err)
	}
	s.log.Info("operator logged in", "operator_id", row.ID, "role", row.Role)
	return Session{Token: base64.RawURLEncoding.EncodeToString(raw[:]), Operator: fromRow(row), ExpiresAt: sess.ExpiresAt}, nil
}

// tokenHash decodes a session token; ok is false for anything that is
// not one.
func tokenHash(token string) (h [32]byte, ok bool) {
	if len(token) != base64.RawURLEncoding.EncodedLen(tokenSize) {
		return h, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != tokenSize {
		return h, false
	}
	return sha256.Sum256(raw), true
}

// Authenticate returns the operator of a session token: ErrUnauthenticated
// for an unknown token or a disabled operator, ErrSessionExpired after
// SessionTTL.
func (s *Service) Authenticate(ctx context.Context, token string) (Operator, error) {
	h, ok := tokenHash(token)
	if !ok {
		return Operator{}, fmt.Errorf("%w: malformed session token", ErrUnauthenticated)
	}
	sess, err := s.st.GetOperatorSession(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return Operator{}, fmt.Errorf("%w: unknown or ended session", ErrUnauthenticated)
	}
	if err != nil {
		return Operator{}, fmt.Errorf("operator: session: %w", err)
	}
	if !s.now().Before(sess.ExpiresAt) {
		if err := s.st.DeleteOperatorSession(ctx, h); err != nil {
			s.log.Warn("operator: expired session not deleted", "err", err)
		}
		return Operator{}, fmt.Errorf("%w at %s; log in again", ErrSessionExpired, sess.ExpiresAt.UTC().Format(time.RFC3339))
	}
	row, err := s.st.GetOperator(ctx, sess.OperatorID)
	if errors.Is(err, store.ErrNotFound) || err == nil && row.Disabled() {
		return Operator{}, fmt.Errorf("%w: account disabled", ErrUnauthenticated)
	}
	if err != nil {
		return Operator{}, fmt.Errorf("operator: session: %w", err)
	}
	return fromRow(row), nil
}

// Logout ends the session of token; an unknown token is not an error.
func (s *Service) Logout(ctx context.Context, token string) error {
	h, ok := tokenHash(token)
	if !ok {
		return nil
	}
	if err := s.st.DeleteOperatorSession(ctx, h); err != nil {
		return fmt.Errorf("operator: logout: %w", err)
	}
	return nil
}

// Count returns how many operators exist (the server hints at `parley
// operator create` when there is none).
func (s *Service) Count(ctx context.Context) (int, error) {
	rows, err := s.st.ListOperators(ctx)
	if err != nil {
		return 0, fmt.Errorf("operator: count: %w", err)
	}
	return len(rows), nil
}
