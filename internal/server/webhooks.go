package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/webhook"
)

// callbackTargets resolves an app's webhook target from its callback
// settings (`parley app callback`); the key is opened only to sign.
type callbackTargets struct{ cbs *app.Callbacks }

func (t callbackTargets) Target(ctx context.Context, sdkAppID uint32) (webhook.Target, bool, error) {
	cb, ok, err := t.cbs.Get(ctx, sdkAppID)
	if err != nil || !ok {
		return webhook.Target{}, false, err
	}
	return webhook.Target{URL: cb.URL, Key: []byte(cb.Key)}, true, nil
}

// webhooks delivers room events (TRTC codes 101–105, 201–206) to apps'
// callbacks through the durable outbox.
type webhooks struct {
	dispatcher *webhook.Dispatcher
	observer   *webhook.Observer
}

func newWebhooks(db *sqlite.DB, cbs *app.Callbacks, log *slog.Logger, reg prometheus.Registerer) (*webhooks, error) {
	d, err := webhook.New(webhook.Config{Outbox: db, Targets: callbackTargets{cbs}, Logger: log, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	o, err := webhook.NewObserver(webhook.ObserverConfig{Outbox: d, Logger: log, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	d.Start()
	o.Start()
	return &webhooks{dispatcher: d, observer: o}, nil
}

// close writes the room events still queued, then stops delivery; what
// is not delivered yet stays in the outbox for the next start.
func (w *webhooks) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	oerr := w.observer.Close(ctx)
	derr := w.dispatcher.Close()
	if oerr != nil {
		return oerr
	}
	return derr
}
