package sqlite

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

const testHash = "pbkdf2-sha256$1$c2FsdHNhbHQ$aGFzaA"

func TestOperatorsLifecycle(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	t0 := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	owner, err := db.CreateOperator(ctx, store.Operator{Name: "owner", Role: "owner", PasswordHash: testHash, CreatedAt: t0})
	if err != nil || owner.ID == 0 {
		t.Fatalf("create: %+v %v", owner, err)
	}
	if _, err := db.CreateOperator(ctx, store.Operator{Name: "owner", Role: "support", PasswordHash: testHash, CreatedAt: t0}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name: %v, want ErrConflict", err)
	}
	if _, err := db.CreateOperator(ctx, store.Operator{Name: "x", Role: "root", PasswordHash: testHash, CreatedAt: t0}); err == nil {
		t.Fatal("unknown role accepted by the schema")
	}
	if _, err := db.CreateOperator(ctx, store.Operator{Name: "y", Role: "support", PasswordHash: "plaintext", CreatedAt: t0}); err == nil {
		t.Fatal("a non-PBKDF2 hash accepted by the schema")
	}
	sup, err := db.CreateOperator(ctx, store.Operator{Name: "sup", Role: "support", PasswordHash: testHash, CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.GetOperatorByName(ctx, "sup")
	if err != nil || got != sup {
		t.Fatalf("by name: %+v %v, want %+v", got, err, sup)
	}
	if _, err := db.GetOperator(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}

	// Sessions: only for active operators; disable and password change end them.
	h1, h2 := [32]byte{1}, [32]byte{2}
	if err := db.CreateOperatorSession(ctx, store.OperatorSession{TokenHash: h1, OperatorID: sup.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	s, err := db.GetOperatorSession(ctx, h1)
	if err != nil || s.OperatorID != sup.ID || !s.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("session: %+v %v", s, err)
	}
	if err := db.SetOperatorPassword(ctx, sup.ID, testHash+"x"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetOperatorSession(ctx, h1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session after password change: %v", err)
	}
	if err := db.CreateOperatorSession(ctx, store.OperatorSession{TokenHash: h2, OperatorID: sup.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.DisableOperator(ctx, sup.ID, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetOperatorSession(ctx, h2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session after disable: %v", err)
	}
	if err := db.CreateOperatorSession(ctx, store.OperatorSession{TokenHash: h1, OperatorID: sup.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session for a disabled operator: %v", err)
	}
	if err := db.DisableOperator(ctx, sup.ID, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second disable: %v", err)
	}
	if err := db.SetOperatorPassword(ctx, sup.ID, testHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("password of a disabled operator: %v", err)
	}
	if got, _ := db.GetOperator(ctx, sup.ID); !got.DisabledAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("disabled_at = %v", got.DisabledAt)
	}

	// The last active owner stays.
	if err := db.DisableOperator(ctx, owner.ID, t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("disable last owner: %v, want ErrConflict", err)
	}
	if _, err := db.write.ExecContext(ctx, `DELETE FROM operators WHERE id = ?`, owner.ID); err == nil {
		t.Fatal("operators row deleted: the trigger must refuse")
	}

	// Expiry sweep.
	if err := db.CreateOperatorSession(ctx, store.OperatorSession{TokenHash: h2, OperatorID: owner.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.DeleteOperatorSessionsBefore(ctx, t0.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("expired sessions deleted: %d %v", n, err)
	}
	list, err := db.ListOperators(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "owner" || list[1].Name != "sup" {
		t.Fatalf("list: %+v %v", list, err)
	}
}
