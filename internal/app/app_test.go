package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/store/sqlite/sqlitetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// countingStore counts GetApp calls to observe the secret cache.
type countingStore struct {
	store.AppStore
	gets atomic.Int64
}

func (c *countingStore) GetApp(ctx context.Context, id uint32) (store.App, error) {
	c.gets.Add(1)
	return c.AppStore.GetApp(ctx, id)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	db     *sqlite.DB
	st     *countingStore
	sealer *keyring.AESGCM
	clock  *fakeClock
	logs   *bytes.Buffer
	svc    *Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := sqlite.Open(testContext(t), filepath.Join(t.TempDir(), "parley.db"), sqlitetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, err := keyring.NewAESGCM(bytes.Repeat([]byte{3}, keyring.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		db:     db,
		st:     &countingStore{AppStore: db},
		sealer: sealer,
		clock:  &fakeClock{t: time.Date(2026, 11, 5, 9, 30, 0, 123456789, time.UTC)},
		logs:   &bytes.Buffer{},
	}
	f.svc = f.service(f.st)
	return f
}

func (f *fixture) service(st store.AppStore) *Service {
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return New(st, f.sealer, Options{Logger: logger, Now: f.clock.Now})
}

func TestCreateGet(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	a, err := f.svc.Create(ctx, "  demo  ")
	if err != nil {
		t.Fatal(err)
	}
	if a.SDKAppID != 1400000001 || a.Name != "demo" {
		t.Fatalf("Create = %+v", a)
	}
	if len(a.SecretKey) != 64 {
		t.Fatalf("secret %d chars, want 64", len(a.SecretKey))
	}
	if _, err := hex.DecodeString(a.SecretKey); err != nil {
		t.Fatalf("secret not hex: %v", err)
	}
	if a.Settings.BillingMode != store.BillingParticipantMinutes {
		t.Errorf("default billing mode = %q", a.Settings.BillingMode)
	}
	if !a.CreatedAt.Equal(f.clock.Now().Truncate(time.Microsecond)) {
		t.Errorf("CreatedAt = %v", a.CreatedAt)
	}

	got, err := f.svc.Get(ctx, a.SDKAppID)
	if err != nil {
		t.Fatal(err)
	}
	if got != a {
		t.Fatalf("Get = %+v, want %+v", got, a)
	}

	row, err := f.db.GetApp(ctx, a.SDKAppID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(row.SealedSecret, []byte(a.SecretKey)) {
		t.Fatal("secret stored in plaintext")
	}
	if row.SecretKeyID != f.sealer.KeyID() {
		t.Errorf("SecretKeyID = %q", row.SecretKeyID)
	}

	b, err := f.svc.Create(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	if b.SecretKey == a.SecretKey || b.SDKAppID == a.SDKAppID {
		t.Fatal("two apps share a secret or an id")
	}
	list, err := f.svc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].SDKAppID != a.SDKAppID || list[0].SecretKey != "" || list[1].Name != "other" {
		t.Fatalf("List = %+v", list)
	}
	if strings.Contains(f.logs.String(), a.SecretKey) || strings.Contains(f.logs.String(), b.SecretKey) {
		t.Fatalf("secret logged:\n%s", f.logs)
	}
	if !strings.Contains(f.logs.String(), "app created") {
		t.Fatalf("no creation log:\n%s", f.logs)
	}
}

func TestCreateRejectsBadNames(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"", "   ", strings.Repeat("x", MaxNameLength+1), "a\nb", "\xff"} {
		if _, err := f.svc.Create(testContext(t), name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("%q: err = %v, want ErrInvalidName", name, err)
		}
	}
	if _, err := f.svc.Create(testContext(t), strings.Repeat("語", MaxNameLength)); err != nil {
		t.Errorf("64 CJK characters rejected: %v", err)
	}
}

func TestSecretKeyCache(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	a, err := f.svc.Create(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		s, err := f.svc.SecretKey(ctx, a.SDKAppID)
		if err != nil {
			t.Fatal(err)
		}
		if s != a.SecretKey {
			t.Fatal("wrong secret")
		}
	}
	if n := f.st.gets.Load(); n != 0 {
		t.Fatalf("store read %d times; Create should have primed the cache", n)
	}
	f.clock.Advance(DefaultCacheTTL)
	if _, err := f.svc.SecretKey(ctx, a.SDKAppID); err != nil {
		t.Fatal(err)
	}
	if n := f.st.gets.Load(); n != 1 {
		t.Fatalf("store read %d times after TTL, want 1", n)
	}

	// Deletion through the service takes effect at once.
	if err := f.svc.Delete(ctx, a.SDKAppID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SecretKey(ctx, a.SDKAppID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: err = %v, want ErrNotFound", err)
	}
	if err := f.svc.Delete(ctx, a.SDKAppID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: err = %v", err)
	}
	if _, err := f.svc.SecretKey(ctx, 42); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown app: err = %v", err)
	}
}

// A delete by another process (the CLI against a running server) is seen
// once the cache entry expires.
func TestCacheStalenessBounded(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	server := f.svc
	cli := f.service(f.db)
	a, err := server.Create(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Delete(ctx, a.SDKAppID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(DefaultCacheTTL - time.Second)
	if _, err := server.SecretKey(ctx, a.SDKAppID); err != nil {
		t.Fatalf("within TTL: %v", err)
	}
	f.clock.Advance(time.Second)
	if _, err := server.SecretKey(ctx, a.SDKAppID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after TTL: err = %v, want ErrNotFound", err)
	}
}

func TestCacheDisabled(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	svc := New(f.st, f.sealer, Options{CacheTTL: -1})
	a, err := svc.Create(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := svc.SecretKey(ctx, a.SDKAppID); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.st.gets.Load(); n != 3 {
		t.Fatalf("store read %d times, want 3", n)
	}
}

func TestRotateSecret(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	a, err := f.svc.Create(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.svc.RotateSecret(ctx, a.SDKAppID)
	if err != nil {
		t.Fatal(err)
	}
	if r.SecretKey == a.SecretKey || len(r.SecretKey) != 64 || r.SDKAppID != a.SDKAppID {
		t.Fatalf("rotated = %+v", r)
	}
	s, err := f.svc.SecretKey(ctx, a.SDKAppID)
	if err != nil || s != r.SecretKey {
		t.Fatalf("SecretKey after rotate = %q, %v", s, err)
	}
	if _, err := f.svc.RotateSecret(ctx, 7); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rotate unknown: err = %v", err)
	}
	if strings.Contains(f.logs.String(), r.SecretKey) {
		t.Fatal("rotated secret logged")
	}
}

func TestUpdateSettings(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	a, err := f.svc.Create(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	s := store.AppSettings{Recording: true, Relay: true, BillingMode: store.BillingBandwidth, EnforcePrivateMapKey: true}
	if err := f.svc.UpdateSettings(ctx, a.SDKAppID, s); err != nil {
		t.Fatal(err)
	}
	// Settings comes from the cache, which the update must have dropped.
	if _, err := f.svc.Settings(ctx, a.SDKAppID); err != nil {
		t.Fatal(err)
	}
	before := f.st.gets.Load()
	got, err := f.svc.Settings(ctx, a.SDKAppID)
	if err != nil {
		t.Fatal(err)
	}
	if got != s {
		t.Fatalf("settings = %+v", got)
	}
	if f.st.gets.Load() != before {
		t.Fatal("Settings not served from the cache")
	}
	s2 := s
	s2.Recording = false
	if err := f.svc.UpdateSettings(ctx, a.SDKAppID, s2); err != nil {
		t.Fatal(err)
	}
	if got, err := f.svc.Settings(ctx, a.SDKAppID); err != nil || got != s2 {
		t.Fatalf("after second update: %+v, %v", got, err)
	}
	if _, err := f.svc.Settings(ctx, 5); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown app settings: err = %v", err)
	}
	s.BillingMode = "free"
	if err := f.svc.UpdateSettings(ctx, a.SDKAppID, s); !errors.Is(err, ErrInvalidSettings) {
		t.Fatalf("bad billing: err = %v", err)
	}
	s.BillingMode = store.BillingBandwidth
	if err := f.svc.UpdateSettings(ctx, 9, s); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown app: err = %v", err)
	}
}

func TestWrongKEKAndSwappedCiphertext(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	a, err := f.svc.Create(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.svc.Create(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}

	other, err := keyring.NewAESGCM(bytes.Repeat([]byte{4}, keyring.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	wrong := New(f.db, other, Options{})
	if _, err := wrong.Get(ctx, a.SDKAppID); !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("wrong KEK: err = %v, want ErrWrongKEK", err)
	}

	// Copying a's sealed secret onto b must not give b a's secret.
	rowA, err := f.db.GetApp(ctx, a.SDKAppID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.UpdateAppSecret(ctx, b.SDKAppID, rowA.SealedSecret, rowA.SecretKeyID); err != nil {
		t.Fatal(err)
	}
	fresh := New(f.db, f.sealer, Options{})
	if _, err := fresh.Get(ctx, b.SDKAppID); !errors.Is(err, ErrCorruptSecret) {
		t.Fatalf("swapped ciphertext: err = %v, want ErrCorruptSecret", err)
	}
}

func TestEnsureDevApp(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	a, created, err := f.svc.EnsureDevApp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !created || a.Name != DevAppName || a.SecretKey == "" {
		t.Fatalf("first EnsureDevApp = %+v, %v", a, created)
	}
	b, created, err := f.svc.EnsureDevApp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if created || b != a {
		t.Fatalf("second EnsureDevApp = %+v, %v; want %+v", b, created, a)
	}

	// Without a "dev" app the oldest app is returned and nothing is created.
	g := newFixture(t)
	first, err := g.svc.Create(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.svc.Create(ctx, "staging"); err != nil {
		t.Fatal(err)
	}
	c, created, err := g.svc.EnsureDevApp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if created || c.SDKAppID != first.SDKAppID || c.SecretKey != first.SecretKey {
		t.Fatalf("EnsureDevApp with apps = %+v, %v", c, created)
	}
}

func TestEnsureDevAppConcurrent(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	var wg sync.WaitGroup
	var creations atomic.Int64
	ids := make([]uint32, 8)
	for i := range ids {
		wg.Go(func() {
			a, created, err := f.svc.EnsureDevApp(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			if created {
				creations.Add(1)
			}
			ids[i] = a.SDKAppID
		})
	}
	wg.Wait()
	if creations.Load() != 1 {
		t.Fatalf("%d dev apps created", creations.Load())
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("callers got different apps: %v", ids)
		}
	}
}

// Joins (SecretKey) racing deletes and rotations: no data race, and once
// Delete returns, no caller sees the secret again.
func TestConcurrentSecretKeyAndDelete(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	const n = 20
	apps := make([]App, n)
	for i := range apps {
		a, err := f.svc.Create(ctx, "app")
		if err != nil {
			t.Fatal(err)
		}
		apps[i] = a
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, a := range apps {
					_, err := f.svc.SecretKey(ctx, a.SDKAppID)
					if err != nil && !errors.Is(err, store.ErrNotFound) {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	for i, a := range apps {
		if i%2 == 0 {
			if err := f.svc.Delete(ctx, a.SDKAppID); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.SecretKey(ctx, a.SDKAppID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("deleted app %d still authenticates: %v", a.SDKAppID, err)
			}
		} else if _, err := f.svc.RotateSecret(ctx, a.SDKAppID); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	for i, a := range apps {
		_, err := f.svc.SecretKey(ctx, a.SDKAppID)
		if (i%2 == 0) != errors.Is(err, store.ErrNotFound) {
			t.Fatalf("app %d (index %d): err = %v", a.SDKAppID, i, err)
		}
	}
}

func TestOpenLocal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx := testContext(t)
	svc, closeFn, err := OpenLocal(ctx, dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	a, created, err := svc.EnsureDevApp(ctx)
	if err != nil || !created {
		t.Fatalf("EnsureDevApp: %v, %v", created, err)
	}
	if err := closeFn(); err != nil {
		t.Fatal(err)
	}

	svc, closeFn, err = OpenLocal(ctx, dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.SecretKey(ctx, a.SDKAppID)
	if err != nil || got != a.SecretKey {
		t.Fatalf("after reopen: %q, %v", got, err)
	}
	if err := closeFn(); err != nil {
		t.Fatal(err)
	}

	// A PARLEY_KEK that is not the key the secrets were sealed with is
	// reported as such, not as corruption.
	envKEK := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	// The keystore, sealed by the first key, says so at open.
	if _, _, err = OpenLocal(ctx, dir, envKEK, nil); !errors.Is(err, keyring.ErrWrongKEK) {
		t.Fatalf("env KEK: err = %v, want keyring.ErrWrongKEK", err)
	}

	if _, _, err := OpenLocal(ctx, dir, "bad", nil); !errors.Is(err, keyring.ErrInvalidKEK) {
		t.Fatalf("bad env KEK: err = %v", err)
	}
}

func TestOpenLocalWithKEKFile(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	kekPath := filepath.Join(t.TempDir(), "keys", "parley.kek")
	svc, closeFn, err := OpenLocalWith(ctx, LocalOptions{DataDir: dir, KEKFile: kekPath})
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	if _, err := svc.Create(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.LoadOrCreateKEK(kekPath, ""); err != nil {
		t.Fatalf("key not at KEKFile: %v", err)
	}
	if _, _, err := OpenLocalWith(ctx, LocalOptions{}); err == nil {
		t.Fatal("empty data dir accepted")
	}
}

func TestAppLogValueHidesSecret(t *testing.T) {
	var buf bytes.Buffer
	a := App{SDKAppID: 1400000001, Name: "x", SecretKey: "deadbeef"}
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "app", a)
	if strings.Contains(buf.String(), "deadbeef") || !strings.Contains(buf.String(), "1400000001") {
		t.Fatalf("log = %s", buf.String())
	}
}
