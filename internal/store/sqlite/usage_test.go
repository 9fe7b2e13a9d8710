package sqlite

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

var usageDay0 = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// Deltas add up per app and day: participant time sums, the peak keeps
// the larger; a batch with one bad delta adds nothing; reads are per app
// and by inclusive day range.
func TestUsageAddAndRead(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	a, b := newApp(t, db, "a").SDKAppID, newApp(t, db, "b").SDKAppID
	d1 := usageDay0.Add(24 * time.Hour)
	if err := db.AddUsage(ctx, []UsageDay{
		{SDKAppID: a, Day: usageDay0, ParticipantMS: 60_000, PeakRooms: 3},
		{SDKAppID: a, Day: d1, ParticipantMS: 1_000, PeakRooms: 1},
		{SDKAppID: b, Day: usageDay0, ParticipantMS: 5, PeakRooms: 9},
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddUsage(ctx, []UsageDay{{SDKAppID: a, Day: usageDay0, ParticipantMS: 30_000, PeakRooms: 2}}); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]UsageDay{
		"no app":      {Day: usageDay0, ParticipantMS: 1},
		"negative":    {SDKAppID: a, Day: usageDay0, ParticipantMS: -1},
		"not at 0:00": {SDKAppID: a, Day: usageDay0.Add(time.Hour), ParticipantMS: 1},
	} {
		err := db.AddUsage(ctx, []UsageDay{{SDKAppID: a, Day: usageDay0, ParticipantMS: 7}, bad})
		if !errors.Is(err, ErrInvalidUsage) {
			t.Errorf("%s: err = %v, want ErrInvalidUsage", name, err)
		}
	}
	got, err := db.Usage(ctx, a, usageDay0.Add(-48*time.Hour), d1.Add(23*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []UsageDay{
		{SDKAppID: a, Day: usageDay0, ParticipantMS: 90_000, PeakRooms: 3},
		{SDKAppID: a, Day: d1, ParticipantMS: 1_000, PeakRooms: 1},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("usage = %+v, want %+v (the rejected batches must add nothing)", got, want)
	}
	if got, _ := db.Usage(ctx, a, d1, d1); len(got) != 1 || !got[0].Day.Equal(d1) {
		t.Fatalf("one-day range = %+v", got)
	}
	if got, _ := db.Usage(ctx, b, usageDay0, d1); len(got) != 1 || got[0].ParticipantMS != 5 || got[0].PeakRooms != 9 {
		t.Fatalf("other app = %+v", got)
	}
}

// Whole days older than the cut-off go, except those of an app under an
// app-wide hold, which are counted as held and not reported as oldest.
func TestUsageSweepKeepsHeldApps(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	a, b := newApp(t, db, "a").SDKAppID, newApp(t, db, "b").SDKAppID
	var rows []UsageDay
	for i := range 3 {
		for _, app := range []uint32{a, b} {
			rows = append(rows, UsageDay{SDKAppID: app, Day: usageDay0.AddDate(0, 0, i), ParticipantMS: 1, PeakRooms: 1})
		}
	}
	if err := db.AddUsage(ctx, rows); err != nil {
		t.Fatal(err)
	}
	now := usageDay0.Add(UsageRetention + 50*time.Hour) // days 0 and 1 ended over 400 days ago; day 2 not
	if _, err := db.AddLegalHold(ctx, store.LegalHold{SDKAppID: b, Reason: store.HoldDispute,
		CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	before := now.Add(-UsageRetention)
	if at, ok, err := db.OldestUsage(ctx, now); err != nil || !ok || !at.Equal(usageDay0) {
		t.Fatalf("oldest = %v %v %v, want %v", at, ok, err, usageDay0)
	}
	c, err := db.sweepUsage(ctx, before, now, 1) // batches of one row
	if err != nil {
		t.Fatal(err)
	}
	if c.Deleted != 2 || c.Held != 2 {
		t.Fatalf("sweep = %+v, want 2 deleted (a's days 0 and 1), 2 held (b's)", c)
	}
	if got, _ := db.Usage(ctx, a, usageDay0, usageDay0.AddDate(0, 0, 2)); len(got) != 1 || !got[0].Day.Equal(usageDay0.AddDate(0, 0, 2)) {
		t.Fatalf("a after the sweep = %+v, want only day 2", got)
	}
	if got, _ := db.Usage(ctx, b, usageDay0, usageDay0.AddDate(0, 0, 2)); len(got) != 3 {
		t.Fatalf("b under its hold = %+v, want its 3 days", got)
	}
	// The oldest unheld row is a's day 2: b's held days do not count.
	if at, ok, err := db.OldestUsage(ctx, now); err != nil || !ok || !at.Equal(usageDay0.AddDate(0, 0, 2)) {
		t.Fatalf("oldest after the sweep = %v %v %v", at, ok, err)
	}
}

// The apps table keeps each app's message retention, 0 to 3650 days, and
// refuses anything else even when the caller skips app.ValidateSettings.
func TestUsageMigrationAppMessageRetention(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	a := newApp(t, db, "a")
	if got, _ := db.GetApp(ctx, a.SDKAppID); got.Settings.MessageRetentionDays != 0 {
		t.Fatalf("new app retention = %d, want 0 (server default)", got.Settings.MessageRetentionDays)
	}
	s := a.Settings
	s.MessageRetentionDays = store.MaxMessageRetentionDays
	if err := db.UpdateAppSettings(ctx, a.SDKAppID, s); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetApp(ctx, a.SDKAppID); got.Settings != s {
		t.Fatalf("settings = %+v, want %+v", got.Settings, s)
	}
	if apps, _ := db.ListApps(ctx); len(apps) != 1 || apps[0].Settings.MessageRetentionDays != store.MaxMessageRetentionDays {
		t.Fatalf("list = %+v", apps)
	}
	for _, bad := range []int{-1, store.MaxMessageRetentionDays + 1} {
		s.MessageRetentionDays = bad
		if err := db.UpdateAppSettings(ctx, a.SDKAppID, s); err == nil {
			t.Errorf("retention %d stored", bad)
		}
	}
}
