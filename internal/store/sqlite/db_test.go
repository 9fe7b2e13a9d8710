package sqlite

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(testContext(t), filepath.Join(t.TempDir(), "parley.db"), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestOpenPragmas(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	var mode string
	if err := db.read.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	for _, p := range []struct {
		pool *DB
		name string
		want int
	}{
		{db, "foreign_keys", 1},
		{db, "busy_timeout", busyTimeoutMS},
		{db, "synchronous", 1}, // NORMAL
	} {
		var got int
		if err := p.pool.write.QueryRowContext(ctx, "PRAGMA "+p.name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != p.want {
			t.Errorf("writer %s = %d, want %d", p.name, got, p.want)
		}
		if err := p.pool.read.QueryRowContext(ctx, "PRAGMA "+p.name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != p.want {
			t.Errorf("reader %s = %d, want %d", p.name, got, p.want)
		}
	}
	if _, err := db.read.ExecContext(ctx, "DELETE FROM apps"); err == nil {
		t.Error("read pool accepted a write")
	}
	if got := db.write.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer MaxOpenConnections = %d, want 1", got)
	}
}

func TestMigrationsAppliedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ctx := testContext(t)
	for range 2 {
		db, err := Open(ctx, path, Options{Logger: logger, KEK: testKEK})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	all, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	// Two opens apply each migration exactly once.
	if n := strings.Count(logs.String(), "applied database migration"); n != len(all) {
		t.Fatalf("%d migrations applied %d times in two opens:\n%s", len(all), n, logs.String())
	}
	db, err := Open(ctx, path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ms) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(ms))
	}
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	ctx := testContext(t)
	db, err := Open(ctx, path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.write.ExecContext(ctx, "INSERT INTO schema_migrations (version, name) VALUES (9999, 'future.sql')"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, path, testOptions()); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("err = %v, want ErrSchemaTooNew", err)
	}
}

func TestOpenBadPaths(t *testing.T) {
	ctx := testContext(t)
	for _, p := range []string{"", ":memory:", "file:x.db"} {
		if _, err := Open(ctx, p, testOptions()); !errors.Is(err, ErrBadPath) {
			t.Errorf("%q: err = %v, want ErrBadPath", p, err)
		}
	}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "missing", "dir", "x.db"), testOptions()); err == nil {
		t.Error("missing parent directory accepted")
	}
}

func TestPathNeedingEscape(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?#%")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "parley.db")
	db, err := Open(testContext(t), path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}
}
