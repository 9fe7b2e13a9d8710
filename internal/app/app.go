// Package app manages apps (SDKAppIDs) and their secret keys. Secrets are
// sealed with the key-encryption key before they reach the store, and
// decrypted secrets are cached in memory because authentication needs one on
// every room join.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"
)

// DevAppName is the name of the app EnsureDevApp creates.
const DevAppName = "dev"

// MaxNameLength bounds an app name in characters.
const MaxNameLength = 64

// DefaultCacheTTL bounds how long a decrypted secret and the settings are
// trusted without re-reading the store. Deletes, rotations and settings
// changes made through this Service take effect at once; the TTL bounds the
// delay for changes made by another process (`parley app delete` against a
// running server, or another node sharing PostgreSQL).
const DefaultCacheTTL = 10 * time.Second

// secretBytes is the entropy of a secret key: 256 bits, shown as 64 hex
// characters.
const secretBytes = 32

// App is an app with its secret in plaintext.
type App struct {
	SDKAppID uint32
	Name     string
	// SecretKey signs UserSigs. It is empty in List results. Never log
	// it; LogValue omits it.
	SecretKey string
	Settings  store.AppSettings
	CreatedAt time.Time
}

// LogValue implements slog.LogValuer so logging an App never prints its
// secret.
func (a App) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Uint64("sdkappid", uint64(a.SDKAppID)),
		slog.String("name", a.Name),
	)
}

// Options tunes a Service. The zero value is usable.
type Options struct {
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
	// CacheTTL is how long a decrypted secret is served from memory;
	// zero means DefaultCacheTTL, negative disables the cache.
	CacheTTL time.Duration
	// Changed, if set, records each change to an app (settings, secret
	// rotation, deletion) — the audit log (issue 5, item 4). Its error is
	// the operation's: a change that cannot be recorded is reported.
	Changed func(ctx context.Context, sdkAppID uint32, change string, detail map[string]string) error
}

// Service manages apps. It is safe for concurrent use.
type Service struct {
	store    store.AppStore
	sealer   keyring.Sealer
	logger   *slog.Logger
	now      func() time.Time
	ttl      time.Duration
	onChange func(ctx context.Context, sdkAppID uint32, change string, detail map[string]string) error

	// ensureMu makes EnsureDevApp's check-then-create atomic within the
	// process.
	ensureMu sync.Mutex

	mu    sync.RWMutex
	cache map[uint32]cachedApp
	// gen counts invalidations. A reader that loaded a secret from the
	// store caches it only if no invalidation happened meanwhile, so a
	// Get racing a Delete cannot put the deleted app's secret back.
	gen uint64
}

type cachedApp struct {
	app     App // with SecretKey
	expires time.Time
}

// New returns a Service storing apps in st and sealing secrets with sealer.
func New(st store.AppStore, sealer keyring.Sealer, opts Options) *Service {
	s := &Service{
		store:    st,
		sealer:   sealer,
		logger:   opts.Logger,
		now:      opts.Now,
		ttl:      opts.CacheTTL,
		onChange: opts.Changed,
		cache:    make(map[uint32]cachedApp),
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl == 0 {
		s.ttl = DefaultCacheTTL
	}
	return s
}

// aad binds a sealed secret to its app, so a secret copied onto another
// app's row fails to open instead of granting access to that app.
func aad(sdkAppID uint32) []byte {
	return []byte("parley/app-secret/v1:" + strconv.FormatUint(uint64(sdkAppID), 10))
}

// ValidateName reports whether name can be an app name.
func ValidateName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidName)
	case utf8.RuneCountInString(name) > MaxNameLength:
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidName, MaxNameLength)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: contains control characters", ErrInvalidName)
	}
	return nil
}

func newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("app: generate secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Create makes a new app with a fresh SDKAppID and secret key.
func (s *Service) Create(ctx context.Context, name string) (App, error) {
	name = strings.TrimSpace(name)
	if err := ValidateName(name); err != nil {
		return App{}, err
	}
	gen := s.generation()
	id, err := s.store.AllocateSDKAppID(ctx)
	if err != nil {
		return App{}, fmt.Errorf("app: create: %w", err)
	}
	secret, err := newSecret()
	if err != nil {
		return App{}, err
	}
	sealed, err := s.sealer.Seal([]byte(secret), aad(id))
	if err != nil {
		return App{}, fmt.Errorf("app: create: %w", err)
	}
	a := App{
		SDKAppID:  id,
		Name:      name,
		SecretKey: secret,
		Settings:  store.AppSettings{BillingMode: store.BillingParticipantMinutes},
		// Microseconds: what every store keeps, so Create and Get agree.
		CreatedAt: s.now().UTC().Truncate(time.Microsecond),
	}
	err = s.store.CreateApp(ctx, store.App{
		SDKAppID:     id,
		Name:         name,
		SealedSecret: sealed,
		SecretKeyID:  s.sealer.KeyID(),
		Settings:     a.Settings,
		CreatedAt:    a.CreatedAt,
	})
	if err != nil {
		return App{}, fmt.Errorf("app: create: %w", err)
	}
	s.remember(a, gen)
	s.logger.Info("app created", "app", a)
	return a, nil
}

// Get returns the app with its decrypted secret.
func (s *Service) Get(ctx context.Context, sdkAppID uint32) (App, error) {
	gen := s.generation()
	row, err := s.store.GetApp(ctx, sdkAppID)
	if err != nil {
		return App{}, fmt.Errorf("app: get: %w", err)
	}
	secret, err := s.open(row)
	if err != nil {
		return App{}, err
	}
	a := fromRow(row)
	a.SecretKey = secret
	s.remember(a, gen)
	return a, nil
}

// SecretKey returns the app's secret, from memory when fresh. It is on the
// path of every join, so a hit takes only a read lock.
func (s *Service) SecretKey(ctx context.Context, sdkAppID uint32) (string, error) {
	a, err := s.cached(ctx, sdkAppID)
	if err != nil {
		return "", err
	}
	return a.SecretKey, nil
}

// Settings returns the app's settings, cached like SecretKey because a
// join consults them too (EnforcePrivateMapKey).
func (s *Service) Settings(ctx context.Context, sdkAppID uint32) (store.AppSettings, error) {
	a, err := s.cached(ctx, sdkAppID)
	if err != nil {
		return store.AppSettings{}, err
	}
	return a.Settings, nil
}

func (s *Service) cached(ctx context.Context, sdkAppID uint32) (App, error) {
	if s.ttl > 0 {
		s.mu.RLock()
		c, ok := s.cache[sdkAppID]
		s.mu.RUnlock()
		if ok && s.now().Before(c.expires) {
			return c.app, nil
		}
	}
	return s.Get(ctx, sdkAppID)
}

// List returns every app ordered by SDKAppID, without secrets: listing
// needs no decryption, and a list is more likely to end up on a screen.
func (s *Service) List(ctx context.Context) ([]App, error) {
	rows, err := s.store.ListApps(ctx)
	if err != nil {
		return nil, fmt.Errorf("app: list: %w", err)
	}
	apps := make([]App, len(rows))
	for i, r := range rows {
		apps[i] = fromRow(r)
	}
	return apps, nil
}

// Delete removes the app: its secret key and callback key at once, and,
// where the store records terminations, every other row of the app at
// the retention engine's next sweep (RETAIN-2). Its SDKAppID is never
// reused.
func (s *Service) Delete(ctx context.Context, sdkAppID uint32) error {
	// Forget before, so a failed delete still leaves the next join
	// re-reading the store, and after, so a Get that read the row while
	// the delete ran cannot keep it cached.
	s.forget(sdkAppID)
	var err error
	if t, ok := s.store.(store.AppTerminator); ok {
		err = t.TerminateApp(ctx, sdkAppID, s.now())
	} else {
		err = s.store.DeleteApp(ctx, sdkAppID)
	}
	s.forget(sdkAppID)
	if err != nil {
		return fmt.Errorf("app: delete: %w", err)
	}
	s.logger.Info("app deleted", "sdkappid", sdkAppID)
	return s.changed(ctx, sdkAppID, "deleted", nil)
}

// changed reports a change to the Changed hook.
func (s *Service) changed(ctx context.Context, sdkAppID uint32, change string, detail map[string]string) error {
	if s.onChange == nil {
		return nil
	}
	if err := s.onChange(ctx, sdkAppID, change, detail); err != nil {
		return fmt.Errorf("app: record %s in the audit log: %w", change, err)
	}
	return nil
}

// ValidateSettings reports whether settings can be stored: a known
// billing mode, and a message retention of 0 (the server's im.retention)
// or 1 to store.MaxMessageRetentionDays days. The CLI and the console
// both reach it through UpdateSettings.
func ValidateSettings(settings store.AppSettings) error {
	if !settings.BillingMode.Valid() {
		return fmt.Errorf("%w: billing mode %q (want %s or %s)", ErrInvalidSettings,
			settings.BillingMode, store.BillingParticipantMinutes, store.BillingBandwidth)
	}
	if d := settings.MessageRetentionDays; d < 0 || d > store.MaxMessageRetentionDays {
		return fmt.Errorf("%w: message retention %d days (want 0 for the server's im.retention, or 1-%d)",
			ErrInvalidSettings, d, store.MaxMessageRetentionDays)
	}
	return nil
}

// UpdateSettings replaces the app's settings.
func (s *Service) UpdateSettings(ctx context.Context, sdkAppID uint32, settings store.AppSettings) error {
	if err := ValidateSettings(settings); err != nil {
		return err
	}
	// Forget before and after, as in Delete.
	s.forget(sdkAppID)
	err := s.store.UpdateAppSettings(ctx, sdkAppID, settings)
	s.forget(sdkAppID)
	if err != nil {
		return fmt.Errorf("app: update settings: %w", err)
	}
	s.logger.Info("app settings updated", "sdkappid", sdkAppID,
		"recording", settings.Recording, "relay", settings.Relay,
		"billing_mode", settings.BillingMode, "enforce_private_map_key", settings.EnforcePrivateMapKey,
		"message_retention_days", settings.MessageRetentionDays)
	return s.changed(ctx, sdkAppID, "settings", map[string]string{
		"recording": strconv.FormatBool(settings.Recording), "relay": strconv.FormatBool(settings.Relay),
		"billing_mode": string(settings.BillingMode), "enforce_private_map_key": strconv.FormatBool(settings.EnforcePrivateMapKey),
		"minor_audience":         strconv.FormatBool(settings.MinorAudience),
		"message_retention_days": strconv.Itoa(settings.MessageRetentionDays)})
}

// RotateSecret replaces the app's secret key; UserSigs signed with the old
// key stop verifying here at once (elsewhere within the cache TTL).
func (s *Service) RotateSecret(ctx context.Context, sdkAppID uint32) (App, error) {
	secret, err := newSecret()
	if err != nil {
		return App{}, err
	}
	sealed, err := s.sealer.Seal([]byte(secret), aad(sdkAppID))
	if err != nil {
		return App{}, fmt.Errorf("app: rotate: %w", err)
	}
	// Forget before and after, as in Delete.
	s.forget(sdkAppID)
	err = s.store.UpdateAppSecret(ctx, sdkAppID, sealed, s.sealer.KeyID())
	s.forget(sdkAppID)
	if err != nil {
		return App{}, fmt.Errorf("app: rotate: %w", err)
	}
	s.logger.Info("app secret rotated", "sdkappid", sdkAppID)
	if err := s.changed(ctx, sdkAppID, "secret_rotated", nil); err != nil {
		return App{}, err
	}
	return s.Get(ctx, sdkAppID)
}

// EnsureDevApp returns an app to develop with, creating one named "dev"
// when the store has no app at all. With existing apps it returns the one
// named "dev" if any, else the oldest. created reports whether it made one,
// so the caller prints the credentials only on first start.
func (s *Service) EnsureDevApp(ctx context.Context) (App, bool, error) {
	s.ensureMu.Lock()
	defer s.ensureMu.Unlock()
	apps, err := s.List(ctx)
	if err != nil {
		return App{}, false, err
	}
	if len(apps) == 0 {
		a, err := s.Create(ctx, DevAppName)
		if err != nil {
			return App{}, false, err
		}
		return a, true, nil
	}
	pick := apps[0]
	for _, a := range apps {
		if a.Name == DevAppName {
			pick = a
			break
		}
	}
	a, err := s.Get(ctx, pick.SDKAppID)
	if err != nil {
		return App{}, false, err
	}
	return a, false, nil
}

func (s *Service) open(row store.App) (string, error) {
	if row.SecretKeyID != s.sealer.KeyID() {
		return "", fmt.Errorf("%w: app %d was sealed with key %s, loaded key is %s (check PARLEY_KEK and the kek file)",
			ErrWrongKEK, row.SDKAppID, row.SecretKeyID, s.sealer.KeyID())
	}
	pt, err := s.sealer.Open(row.SealedSecret, aad(row.SDKAppID))
	if err != nil {
		if errors.Is(err, keyring.ErrDecrypt) || errors.Is(err, keyring.ErrMalformed) {
			return "", fmt.Errorf("%w: app %d: %w", ErrCorruptSecret, row.SDKAppID, err)
		}
		return "", fmt.Errorf("app: open secret of %d: %w", row.SDKAppID, err)
	}
	return string(pt), nil
}

func (s *Service) generation() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gen
}

// remember caches an app read when the generation was gen.
func (s *Service) remember(a App, gen uint64) {
	if s.ttl <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	s.cache[a.SDKAppID] = cachedApp{app: a, expires: s.now().Add(s.ttl)}
}

func (s *Service) forget(id uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	delete(s.cache, id)
}

func fromRow(r store.App) App {
	return App{SDKAppID: r.SDKAppID, Name: r.Name, Settings: r.Settings, CreatedAt: r.CreatedAt}
}
