package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/config"
)

// appDirectory is the embedded (SQLite) app service. A PostgreSQL-backed
// one plugs in behind the same store interfaces later.
type appDirectory struct {
	*app.Service
}

func openLocal(ctx context.Context, cfg config.Config, log *slog.Logger, now func() time.Time) (*app.Local, error) {
	return app.OpenLocalStores(ctx, app.LocalOptions{
		DataDir: cfg.DataDir,
		KEKFile: cfg.KEKPath(),
		KEKEnv:  cfg.KEK,
		Logger:  log,
		Now:     now,
	})
}

// ensureDevApp creates the development app on an empty data directory.
func (d *appDirectory) ensureDevApp(ctx context.Context) (DevApp, error) {
	a, created, err := d.EnsureDevApp(ctx)
	if err != nil {
		return DevApp{}, err
	}
	return DevApp{SDKAppID: a.SDKAppID, SecretKey: a.SecretKey, Created: created}, nil
}
