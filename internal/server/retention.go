package server

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/retention"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/webhook"
)

// RetentionStores is what the server's retention engine sweeps: the
// standard stores plus the keystore schedule and data-subject records.
type RetentionStores interface {
	retention.Stores
	RotateKeys(ctx context.Context) (store.KeyRotation, error)
	KeystoreEpochs() []keyring.EpochInfo
	KeystoreWindow() time.Duration
	OldestFinishedDSR(ctx context.Context) (time.Time, bool, error)
	DeleteFinishedDSR(ctx context.Context, before time.Time) (int64, error)
	OldestUsage(ctx context.Context, now time.Time) (time.Time, bool, error)
	SweepUsage(ctx context.Context, before, now time.Time) (store.SweepCount, error)
}

// NewRetention builds the retention engine over a data directory's store
// with the configured limits: telemetry, message history (each app's own
// limit where it set one, RETAIN-3), finished callbacks, push tokens,
// deleted apps and ended legal holds, each sweep keeping what legal holds
// cover (docs/retention.md), plus the keystore's rotation (epoch keys
// destroyed after the window, RIGHTS-5), finished data-subject requests
// and the daily usage counts (400 days: they hold no personal
// information, but everything stored has a limit). `parley serve` runs it
// every hour and `parley retention` on demand; now is the injected clock
// every sweep uses. With an audit log, every run is appended to it
// (issue 5, item 4).
func NewRetention(st RetentionStores, inv *inventory.Inventory, cfg config.Config, log *slog.Logger, now func() time.Time, auditLog *audit.Log) (*retention.Engine, error) {
	targets, err := retention.StandardTargets(st, inv, retention.Limits{
		Messages: cfg.IM.Retention, PushTokens: cfg.IM.PushTokenTTL, Webhooks: webhook.Retention,
	})
	if err != nil {
		return nil, err
	}
	targets = append(targets,
		retention.Target{Store: "keystore", What: "epoch keys (a new one daily; each destroyed after the window)",
			Limit: st.KeystoreWindow(), Granularity: keyring.DefaultRotateEvery,
			Oldest: func(context.Context, time.Time) (time.Time, bool, error) {
				eps := st.KeystoreEpochs()
				if len(eps) == 0 {
					return time.Time{}, false, nil
				}
				return eps[0].Created, true, nil
			},
			Sweep: func(ctx context.Context, _, _ time.Time) (store.SweepCount, error) {
				r, err := st.RotateKeys(ctx)
				return store.SweepCount{Deleted: int64(len(r.DestroyedEpochs))}, err
			}},
		retention.Target{Store: "dsr_requests", What: "finished data-subject requests and receipts", Limit: store.DSRRetention,
			Oldest: func(ctx context.Context, _ time.Time) (time.Time, bool, error) { return st.OldestFinishedDSR(ctx) },
			Sweep: func(ctx context.Context, before, _ time.Time) (store.SweepCount, error) {
				n, err := st.DeleteFinishedDSR(ctx, before)
				return store.SweepCount{Deleted: n}, err
			}},
		retention.Target{Store: "usage_daily", What: "participant-minutes per app per day (billing; no user ids)",
			Limit: sqlite.UsageRetention, Granularity: 24 * time.Hour, Oldest: st.OldestUsage, Sweep: st.SweepUsage},
	)
	opts := retention.Options{Now: now, Logger: log}
	if auditLog != nil {
		opts.Swept = sweepAuditor(auditLog)
	}
	return retention.New(targets, opts), nil
}

// sweepAuditor appends a run to the audit log: per store, rows deleted
// and held. A run that deleted and held nothing is not recorded, so the
// hourly sweep of an idle server does not grow the log.
func sweepAuditor(log *audit.Log) func(ctx context.Context, at time.Time, results []retention.Result) error {
	return func(ctx context.Context, at time.Time, results []retention.Result) error {
		detail := map[string]string{}
		for _, r := range results {
			if r.Deleted > 0 || r.Held > 0 || r.Error != "" {
				detail[r.Store] = strconv.FormatInt(r.Deleted, 10) + " deleted, " + strconv.FormatInt(r.Held, 10) + " held"
				if r.Error != "" {
					detail[r.Store] += ", failed"
				}
			}
		}
		if len(detail) == 0 {
			return nil
		}
		_, err := log.Append(ctx, audit.Entry{At: at, Kind: audit.KindRetentionSweep, Detail: detail})
		return err
	}
}
