package operator

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/store/sqlite/sqlitetest"
)

// testIterations keeps hashing fast in tests; production uses
// DefaultIterations (TestPasswordHashRoundTrip checks it).
const testIterations = 1000

const ownerPass = "owner-password-0123456789"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openDB(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(testCtx(t), filepath.Join(t.TempDir(), "parley.db"), sqlitetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func newTestService(t *testing.T, c *clock) (*Service, *sqlite.DB) {
	t.Helper()
	db := openDB(t)
	return New(db, Options{Now: c.Now, Iterations: testIterations}), db
}

func TestCreateRules(t *testing.T) {
	ctx := testCtx(t)
	svc, _ := newTestService(t, newClock())
	if _, err := svc.Create(ctx, "dev", RoleDeveloper, ownerPass); !errors.Is(err, ErrFirstOwner) {
		t.Fatalf("first operator a developer: %v, want ErrFirstOwner", err)
	}
	owner, err := svc.Create(ctx, "owner", RoleOwner, ownerPass)
	if err != nil || owner.ID == 0 || owner.Role != RoleOwner {
		t.Fatalf("owner: %+v %v", owner, err)
	}
	if _, err := svc.Create(ctx, "owner", RoleSupport, ownerPass); !errors.Is(err, ErrExists) {
		t.Fatalf("same name: %v", err)
	}
	for _, name := range []string{"", "-x", "has space", "ü", string(make([]byte, 65))} {
		if _, err := svc.Create(ctx, name, RoleSupport, ownerPass); !errors.Is(err, ErrInvalid) {
			t.Errorf("name %q: %v", name, err)
		}
	}
	if _, err := svc.Create(ctx, "x", "root", ownerPass); !errors.Is(err, ErrInvalid) {
		t.Errorf("role: %v", err)
	}
	if _, err := svc.Create(ctx, "x", RoleSupport, "short"); !errors.Is(err, ErrInvalid) {
		t.Errorf("password: %v", err)
	}
	if _, err := svc.Create(ctx, "sup.port@ops", RoleSupport, ownerPass); err != nil {
		t.Errorf("valid name: %v", err)
	}
}

// proves SEC-2: a session opens with the right password only, lasts 12
// hours by the injected clock, and then fails with a precise error.
func TestLoginSessionExpiry(t *testing.T) {
	ctx := testCtx(t)
	c := newClock()
	svc, _ := newTestService(t, c)
	if _, err := svc.Create(ctx, "owner", RoleOwner, ownerPass); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, "owner", ownerPass+"x"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := svc.Login(ctx, "nobody", ownerPass); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("unknown name: %v", err)
	}
	s, err := svc.Login(ctx, "owner", ownerPass)
	if err != nil || len(s.Token) != 43 || !s.ExpiresAt.Equal(c.Now().Add(12*time.Hour)) {
		t.Fatalf("login: %+v %v", s, err)
	}
	c.Advance(12*time.Hour - time.Millisecond)
	if op, err := svc.Authenticate(ctx, s.Token); err != nil || op.Name != "owner" {
		t.Fatalf("just before expiry: %+v %v", op, err)
	}
	c.Advance(time.Millisecond)
	if _, err := svc.Authenticate(ctx, s.Token); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("at expiry: %v, want ErrSessionExpired", err)
	}
	if _, err := svc.Authenticate(ctx, s.Token); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("expired session not deleted: %v", err)
	}
	for _, tok := range []string{"", "x", s.Token[:42] + "!"} {
		if _, err := svc.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("token %q: %v", tok, err)
		}
	}
	s2, err := svc.Login(ctx, "owner", ownerPass)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Logout(ctx, s2.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, s2.Token); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("after logout: %v", err)
	}
}

// proves SEC-2: at most 5 login attempts per name per minute, counted for
// right and wrong passwords and unknown names alike, with the wait in the
// error.
func TestLoginRateLimit(t *testing.T) {
	ctx := testCtx(t)
	c := newClock()
	svc, _ := newTestService(t, c)
	if _, err := svc.Create(ctx, "owner", RoleOwner, ownerPass); err != nil {
		t.Fatal(err)
	}
	for i := range LoginBurst {
		if _, err := svc.Login(ctx, "owner", "wrong-password-000000"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	_, err := svc.Login(ctx, "owner", ownerPass)
	var rl *RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, ErrRateLimited) || rl.RetryAfter != 12*time.Second {
		t.Fatalf("6th attempt: %v, want a rate limit with 12s to wait", err)
	}
	if err.Error() != "operator: too many login attempts for this name: at most 5 per 1m0s; retry in 12s" {
		t.Errorf("message %q", err)
	}
	// Another name has its own budget, known or not.
	if _, err := svc.Login(ctx, "someone", ownerPass); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("other name: %v", err)
	}
	c.Advance(12 * time.Second)
	if _, err := svc.Login(ctx, "owner", ownerPass); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
	if _, err := svc.Login(ctx, "owner", ownerPass); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("one token refilled, not more: %v", err)
	}
}

func TestDisableAndPassword(t *testing.T) {
	ctx := testCtx(t)
	c := newClock()
	svc, _ := newTestService(t, c)
	if _, err := svc.Create(ctx, "owner", RoleOwner, ownerPass); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Disable(ctx, "owner"); !errors.Is(err, ErrLastOwner) {
		t.Fatalf("last owner: %v", err)
	}
	if _, err := svc.Create(ctx, "sup", RoleSupport, ownerPass); err != nil {
		t.Fatal(err)
	}
	s, err := svc.Login(ctx, "sup", ownerPass)
	if err != nil {
		t.Fatal(err)
	}
	newPass := NewPassword()
	if err := svc.SetPassword(ctx, "sup", newPass); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, s.Token); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("session survived a password change: %v", err)
	}
	if _, err := svc.Login(ctx, "sup", ownerPass); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password: %v", err)
	}
	s, err = svc.Login(ctx, "sup", newPass)
	if err != nil {
		t.Fatal(err)
	}
	d, err := svc.Disable(ctx, "sup")
	if err != nil || !d.Disabled() {
		t.Fatalf("disable: %+v %v", d, err)
	}
	if _, err := svc.Authenticate(ctx, s.Token); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("session survived disable: %v", err)
	}
	if _, err := svc.Login(ctx, "sup", newPass); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("disabled login: %v", err)
	}
	if _, err := svc.Disable(ctx, "sup"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("disable twice: %v", err)
	}
	if err := svc.SetPassword(ctx, "nobody", newPass); !errors.Is(err, ErrNotFound) {
		t.Fatalf("password of nobody: %v", err)
	}
}
