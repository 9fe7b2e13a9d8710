package server

import (
	"log/slog"
	"time"

	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/retention"
	"github.com/parley-rtc/parley/internal/webhook"
)

// NewRetention builds the retention engine over a data directory's store
// with the configured limits: telemetry, message history, finished
// callbacks, push tokens, deleted apps and ended legal holds, each sweep
// keeping what legal holds cover (docs/retention.md). `parley serve` runs
// it every hour and `parley retention` on demand; now is the injected
// clock every sweep uses.
func NewRetention(st retention.Stores, inv *inventory.Inventory, cfg config.Config, log *slog.Logger, now func() time.Time) (*retention.Engine, error) {
	targets, err := retention.StandardTargets(st, inv, retention.Limits{
		Messages: cfg.IM.Retention, PushTokens: cfg.IM.PushTokenTTL, Webhooks: webhook.Retention,
	})
	if err != nil {
		return nil, err
	}
	return retention.New(targets, retention.Options{Now: now, Logger: log}), nil
}
