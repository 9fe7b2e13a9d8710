package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"
)

// ErrInvalidCallback reports an unusable callback URL or key.
var ErrInvalidCallback = errors.New("invalid callback")

// MaxCallbackKeyBytes is TRTC's console limit for the callback key: at
// most 32 letters and digits (REFERENCE.md §1.4).
const MaxCallbackKeyBytes = 32

// Callback is an app's event callback target with its key in clear.
type Callback struct {
	URL string
	Key string // never logged
}

// Callbacks keeps apps' webhook targets, the key sealed like the app
// secret (SEC-4) and bound to the app by associated data.
type Callbacks struct {
	st     store.AppCallbackStore
	sealer keyring.Sealer
	now    func() time.Time
}

// NewCallbacks builds the service.
func NewCallbacks(st store.AppCallbackStore, sealer keyring.Sealer, now func() time.Time) *Callbacks {
	if now == nil {
		now = time.Now
	}
	return &Callbacks{st: st, sealer: sealer, now: now}
}

func callbackAAD(sdkAppID uint32) []byte {
	return []byte("parley/callback-key/" + strconv.FormatUint(uint64(sdkAppID), 10))
}

// ValidateCallback checks a callback URL (absolute http or https) and key
// (1–32 ASCII letters and digits).
func ValidateCallback(cb Callback) error {
	u, err := url.Parse(cb.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w: url must be an absolute http(s) URL", ErrInvalidCallback)
	}
	if cb.Key == "" || len(cb.Key) > MaxCallbackKeyBytes {
		return fmt.Errorf("%w: key must be 1-%d letters and digits", ErrInvalidCallback, MaxCallbackKeyBytes)
	}
	for i := 0; i < len(cb.Key); i++ {
		c := cb.Key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return fmt.Errorf("%w: key must be 1-%d letters and digits", ErrInvalidCallback, MaxCallbackKeyBytes)
		}
	}
	return nil
}

// Set stores an app's callback target.
func (c *Callbacks) Set(ctx context.Context, sdkAppID uint32, cb Callback) error {
	if err := ValidateCallback(cb); err != nil {
		return err
	}
	sealed, err := c.sealer.Seal([]byte(cb.Key), callbackAAD(sdkAppID))
	if err != nil {
		return fmt.Errorf("app: seal callback key: %w", err)
	}
	return c.st.PutAppCallback(ctx, store.AppCallback{SDKAppID: sdkAppID, URL: cb.URL, SealedKey: sealed, KeyID: c.sealer.KeyID(), UpdatedAt: c.now()})
}

// Get returns an app's callback target; ok is false when none is set.
func (c *Callbacks) Get(ctx context.Context, sdkAppID uint32) (cb Callback, ok bool, err error) {
	row, err := c.st.GetAppCallback(ctx, sdkAppID)
	if errors.Is(err, store.ErrNotFound) {
		return Callback{}, false, nil
	}
	if err != nil {
		return Callback{}, false, err
	}
	key, err := c.sealer.Open(row.SealedKey, callbackAAD(sdkAppID))
	if err != nil {
		return Callback{}, false, fmt.Errorf("app: open callback key of app %d: %w", sdkAppID, err)
	}
	return Callback{URL: row.URL, Key: string(key)}, true, nil
}

// Clear removes an app's callback target.
func (c *Callbacks) Clear(ctx context.Context, sdkAppID uint32) error {
	return c.st.DeleteAppCallback(ctx, sdkAppID)
}
