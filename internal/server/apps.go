package server

import (
	"context"
	"log/slog"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/config"
)

// appDirectory is the embedded (SQLite) app service. A PostgreSQL-backed
// one plugs in behind the same store interfaces later.
type appDirectory struct {
	*app.Service
}

func openAppDirectory(ctx context.Context, cfg config.Config, log *slog.Logger) (*appDirectory, func() error, error) {
	svc, closeFn, err := app.OpenLocalWith(ctx, app.LocalOptions{
		DataDir: cfg.DataDir,
		KEKFile: cfg.KEKFile,
		KEKEnv:  cfg.KEK,
		Logger:  log,
	})
	if err != nil {
		return nil, nil, err
	}
	return &appDirectory{svc}, closeFn, nil
}

// ensureDevApp creates the development app on an empty data directory.
func (d *appDirectory) ensureDevApp(ctx context.Context) (DevApp, error) {
	a, created, err := d.EnsureDevApp(ctx)
	if err != nil {
		return DevApp{}, err
	}
	return DevApp{SDKAppID: a.SDKAppID, SecretKey: a.SecretKey, Created: created}, nil
}
