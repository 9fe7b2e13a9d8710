package sqlite

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

var holdT0 = time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC)

// A hold is refused with a precise error unless it names a legal ground,
// ends within three years, has a short note and holds a reference, never
// a user id. proves RETAIN-4
func TestLegalHoldValidation(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	a := newApp(t, db, "held")
	ref := db.UserRef(a.SDKAppID, "alice")
	ok := store.LegalHold{SDKAppID: a.SDKAppID, Subject: ref, Reason: store.HoldCourt, CreatedAt: holdT0,
		ExpiresAt: holdT0.Add(90 * 24 * time.Hour)}
	bad := map[string]func(h *store.LegalHold){
		"reason":       func(h *store.LegalHold) { h.Reason = "curiosity" },
		"no expiry":    func(h *store.LegalHold) { h.ExpiresAt = time.Time{} },
		"past expiry":  func(h *store.LegalHold) { h.ExpiresAt = h.CreatedAt.Add(-time.Hour) },
		"over 3 years": func(h *store.LegalHold) { h.ExpiresAt = h.CreatedAt.Add(store.MaxHoldDuration + time.Hour) },
		"long note":    func(h *store.LegalHold) { h.Note = strings.Repeat("x", store.MaxHoldNote+1) },
		"control note": func(h *store.LegalHold) { h.Note = "case\n42" },
		"raw user id":  func(h *store.LegalHold) { h.Subject = "alice" },
	}
	for name, mutate := range bad {
		h := ok
		mutate(&h)
		if _, err := db.AddLegalHold(ctx, h); !errors.Is(err, store.ErrInvalidHold) {
			t.Errorf("%s: err = %v, want ErrInvalidHold", name, err)
		}
	}
	h := ok
	h.ExpiresAt = h.CreatedAt.Add(store.MaxHoldDuration)
	h.Note = strings.Repeat("x", store.MaxHoldNote)
	if _, err := db.AddLegalHold(ctx, h); err != nil {
		t.Fatalf("a hold at the limits: %v", err)
	}
	h.SDKAppID = 4242
	if _, err := db.AddLegalHold(ctx, h); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("hold on an unknown app: err = %v, want ErrNotFound", err)
	}
}

// Holds are listed while in force (all with includeEnded), released once,
// and expire by themselves. proves RETAIN-4
func TestLegalHoldLifecycle(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	a, b := newApp(t, db, "a"), newApp(t, db, "b")
	appHold, err := db.AddLegalHold(ctx, store.LegalHold{SDKAppID: a.SDKAppID, Reason: store.HoldLaw, Note: "case 7",
		CreatedAt: holdT0, ExpiresAt: holdT0.Add(10 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	userHold, err := db.AddLegalHold(ctx, store.LegalHold{SDKAppID: b.SDKAppID, Subject: db.UserRef(b.SDKAppID, "bob"),
		Reason: store.HoldDispute, CreatedAt: holdT0, ExpiresAt: holdT0.Add(30 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if appHold.ID == 0 || userHold.Subject != db.UserRef(b.SDKAppID, "bob") {
		t.Fatalf("recorded holds = %+v, %+v", appHold, userHold)
	}
	list := func(app uint32, all bool, at time.Time) []store.LegalHold {
		t.Helper()
		hs, err := db.ListLegalHolds(ctx, app, all, at)
		if err != nil {
			t.Fatal(err)
		}
		return hs
	}
	if hs := list(0, false, holdT0.Add(time.Hour)); len(hs) != 2 {
		t.Fatalf("active holds = %+v", hs)
	}
	if hs := list(b.SDKAppID, false, holdT0.Add(time.Hour)); len(hs) != 1 || hs[0].ID != userHold.ID {
		t.Fatalf("app b's holds = %+v", hs)
	}
	// Eleven days on, the app hold has expired by itself.
	later := holdT0.Add(11 * 24 * time.Hour)
	if hs := list(0, false, later); len(hs) != 1 || hs[0].ID != userHold.ID {
		t.Fatalf("active holds after expiry = %+v", hs)
	}
	if _, err := db.ReleaseLegalHold(ctx, appHold.ID, later); !errors.Is(err, store.ErrHoldEnded) {
		t.Fatalf("release an expired hold: %v", err)
	}
	rel, err := db.ReleaseLegalHold(ctx, userHold.ID, later)
	if err != nil || !rel.ReleasedAt.Equal(later) || rel.Active(later) {
		t.Fatalf("release = %+v, %v", rel, err)
	}
	if _, err := db.ReleaseLegalHold(ctx, userHold.ID, later); !errors.Is(err, store.ErrHoldEnded) {
		t.Fatalf("release twice: %v", err)
	}
	if _, err := db.ReleaseLegalHold(ctx, 999, later); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("release unknown: %v", err)
	}
	if hs := list(0, true, later); len(hs) != 2 || list(0, false, later) != nil {
		t.Fatalf("all holds = %+v", hs)
	}
	// Ended holds' records go 14 days after they end.
	if at, ok, err := db.OldestEndedLegalHold(ctx, later); err != nil || !ok || !at.Equal(appHold.ExpiresAt) {
		t.Fatalf("oldest ended hold = %v, %v, %v", at, ok, err)
	}
	c, err := db.DeleteEndedLegalHolds(ctx, appHold.ExpiresAt.Add(time.Millisecond))
	if err != nil || c.Deleted != 1 {
		t.Fatalf("delete ended holds = %+v, %v", c, err)
	}
	if hs := list(0, true, later); len(hs) != 1 || hs[0].ID != userHold.ID {
		t.Fatalf("holds left = %+v", hs)
	}
}
