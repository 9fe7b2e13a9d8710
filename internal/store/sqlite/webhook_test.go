package sqlite

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

func TestWebhookOutboxLifecycle(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "w.db")
	db, err := Open(ctx, path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"EventType":103, "x": "raw  spacing kept"}`)
	w := store.Webhook{SDKAppID: 7, EventID: "e1", URL: "http://127.0.0.1/cb", Body: body, CreatedAt: t0, NextAttemptAt: t0}
	id, err := db.EnqueueWebhook(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.EnqueueWebhook(ctx, w); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate event id: err = %v, want ErrConflict", err)
	}
	id2, err := db.EnqueueWebhook(ctx, store.Webhook{SDKAppID: 8, EventID: "e1", URL: "http://x/", Body: []byte("{}"), CreatedAt: t0, NextAttemptAt: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	// Durable before return: a fresh handle sees it.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	if next, ok, err := db.NextWebhookAt(ctx); err != nil || !ok || !next.Equal(t0) {
		t.Fatalf("next = %v %v %v, want %v", next, ok, err, t0)
	}
	got, err := db.ClaimWebhooks(ctx, t0.Add(-time.Millisecond), t0.Add(time.Minute), 10)
	if err != nil || len(got) != 0 {
		t.Fatalf("claim before due: %d rows, %v", len(got), err)
	}
	lease := t0.Add(15 * time.Second)
	got, err = db.ClaimWebhooks(ctx, t0, lease, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("claim: %d rows, %v; want 1 (app 8's row is not due)", len(got), err)
	}
	c := got[0]
	if c.ID != id || !bytes.Equal(c.Body, body) || c.State != store.WebhookPending || !c.FirstAttemptAt.Equal(t0) || !c.NextAttemptAt.Equal(lease) {
		t.Fatalf("claimed %+v", c)
	}
	if got, _ := db.ClaimWebhooks(ctx, t0, lease, 10); len(got) != 0 {
		t.Fatal("a leased row was claimed twice")
	}

	// Failed attempt, retry later; the first attempt time stays.
	if err := db.FinishWebhookAttempt(ctx, id, store.WebhookResult{State: store.WebhookPending, NextAttemptAt: t0.Add(10 * time.Second), LastError: "http status 500", Attempted: true}); err != nil {
		t.Fatal(err)
	}
	got, _ = db.ClaimWebhooks(ctx, t0.Add(10*time.Second), lease.Add(time.Minute), 10)
	if len(got) != 1 || got[0].Attempts != 1 || !got[0].FirstAttemptAt.Equal(t0) || got[0].LastError != "http status 500" {
		t.Fatalf("second claim %+v", got)
	}
	// A release (shutdown) does not count.
	if err := db.FinishWebhookAttempt(ctx, id, store.WebhookResult{State: store.WebhookPending, NextAttemptAt: t0.Add(11 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishWebhookAttempt(ctx, id, store.WebhookResult{State: store.WebhookDelivered, NextAttemptAt: t0.Add(12 * time.Second), Attempted: true}); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishWebhookAttempt(ctx, id, store.WebhookResult{State: store.WebhookFailed, Attempted: true}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("finishing a delivered row: err = %v, want ErrNotFound", err)
	}
	g, err := db.GetWebhook(ctx, id)
	if err != nil || g.State != store.WebhookDelivered || g.Attempts != 2 {
		t.Fatalf("get = %+v, %v; want delivered after 2 attempts", g, err)
	}
	if _, err := db.GetWebhook(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}

	// Retention removes finished rows only.
	n, err := db.DeleteWebhooksBefore(ctx, t0.Add(15*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("delete = %d, %v; want 1 (pending row kept)", n, err)
	}
	if _, err := db.GetWebhook(ctx, id2); err != nil {
		t.Fatalf("pending row deleted: %v", err)
	}
	if next, ok, _ := db.NextWebhookAt(ctx); !ok || !next.Equal(t0.Add(time.Hour)) {
		t.Fatalf("next after delete = %v %v", next, ok)
	}
}
