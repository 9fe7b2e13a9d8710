package retention_test

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/retention"
	"github.com/parley-rtc/parley/internal/store"
)

// messagesStatus is the messages target's status.
func (f *fixture) messagesStatus(t *testing.T) retention.Status {
	t.Helper()
	st, err := f.eng.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Store == "messages" {
			return s
		}
	}
	t.Fatal("no messages target")
	return retention.Status{}
}

// An app's own message retention replaces the server's for its history,
// shorter (2 days) or longer (30 days) than the server's 7; an app
// without one keeps the server's. Each goes by whole UTC days, not a day
// early; a hold on a user of the short app still keeps her messages; and
// the status judges each app by its own limit, so the long app's history
// is not reported late while a short app's unswept one is.
// proves RETAIN-3, RETAIN-4
func TestAppMessageRetention(t *testing.T) {
	f := newFixture(t, defaultLimits) // im.retention 7 days
	ctx := t.Context()
	svc := f.apps(t)
	def, short, long := f.newApp(t, svc, "default"), f.newApp(t, svc, "short"), f.newApp(t, svc, "long")
	setDays := func(id uint32, days int) error {
		a, err := svc.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		a.Settings.MessageRetentionDays = days
		return svc.UpdateSettings(ctx, id, a.Settings)
	}
	for _, bad := range []int{-1, store.MaxMessageRetentionDays + 1} {
		if err := setDays(short, bad); !errors.Is(err, app.ErrInvalidSettings) {
			t.Fatalf("retention %d days: err = %v, want ErrInvalidSettings", bad, err)
		}
	}
	if err := setDays(short, 2); err != nil {
		t.Fatal(err)
	}
	if err := setDays(long, 30); err != nil {
		t.Fatal(err)
	}
	sender, ref := f.aliceSender(t, short)
	for _, id := range []uint32{def, short, long} {
		f.addMessage(t, id, "bob", "old", t0) // 2026-03-02 10:00
	}
	f.addMessage(t, short, sender, "alice's", t0)
	if _, err := f.db.AddLegalHold(ctx, store.LegalHold{SDKAppID: short, Subject: ref, Reason: store.HoldCourt,
		CreatedAt: t0, ExpiresAt: t0.Add(60 * day)}); err != nil {
		t.Fatal(err)
	}
	count := func(id uint32) int64 {
		return f.count(t, `SELECT count(*) FROM im_messages WHERE sdkappid = ?`, int64(id))
	}
	check := func(when string, wantDef, wantShort, wantLong int64) {
		t.Helper()
		if d, s, l := count(def), count(short), count(long); d != wantDef || s != wantShort || l != wantLong {
			t.Fatalf("%s: default %d, short %d, long %d messages; want %d, %d, %d", when, d, s, l, wantDef, wantShort, wantLong)
		}
	}

	// 4 March 23:00: 2 March ended 47 hours ago, not 2 days: all stay.
	f.clk.set(time.Date(2026, 3, 4, 23, 0, 0, 0, time.UTC))
	if r := f.run(t)["messages"]; r.Deleted != 0 {
		t.Fatalf("a day early: %+v", r)
	}
	check("4 March", 1, 2, 1)

	// 5 March: the short app's day is past its 2 days; alice's message
	// is held. The others keep theirs.
	f.clk.set(time.Date(2026, 3, 5, 0, 30, 0, 0, time.UTC))
	if r := f.run(t)["messages"]; r.Deleted != 1 || r.Held != 1 {
		t.Fatalf("5 March sweep = %+v; want the short app's unheld message deleted, alice's held", r)
	}
	check("5 March", 1, 1, 1)
	f.assertWithin(t, "5 March")

	// A short-app message the engine has not swept 4 days on is late by
	// the short app's own limit, though within the server's 7 days.
	f.addMessage(t, short, "bob", "late", f.clk.Now())
	f.clk.set(time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC))
	if s := f.messagesStatus(t); s.Within {
		t.Fatalf("unswept 4-day-old message of a 2-day app reported within: %+v", s)
	}
	f.run(t)
	check("9 March", 1, 1, 1)

	// 10 March: past the server's 7 days; the long app keeps its
	// 8-day-old message and is not late for it.
	f.clk.set(time.Date(2026, 3, 10, 0, 30, 0, 0, time.UTC))
	if r := f.run(t)["messages"]; r.Deleted != 2 {
		t.Fatalf("10 March sweep = %+v; want the default app's message and aliceSender's probe (no app row: the default) deleted", r)
	}
	check("10 March", 0, 1, 1)
	f.clk.set(time.Date(2026, 3, 12, 0, 30, 0, 0, time.UTC))
	if s := f.messagesStatus(t); !s.Within || s.OldestDays < 9 {
		t.Fatalf("status with a 10-day-old message of a 30-day app = %+v; want within, oldest age shown", s)
	}

	// Back to the server default (0): the long app's 2 March message is
	// past 7 days and goes at the next sweep.
	if err := setDays(long, 0); err != nil {
		t.Fatal(err)
	}
	if s := f.messagesStatus(t); s.Within {
		t.Fatalf("status after the long app returned to 7 days = %+v; want late", s)
	}
	f.run(t)
	check("back to the default", 0, 1, 0)
	f.assertWithin(t, "back to the default")

	// Alice's hold ends; her message, past the short app's limit, goes.
	f.clk.set(t0.Add(61 * day))
	f.run(t)
	check("after the hold", 0, 0, 0)
}
