package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"
)

// ResealSecrets reseals every app secret under next (a KEK rotation). A
// secret already sealed under next is skipped, so an interrupted rotation
// can be run again. It returns how many secrets it resealed.
func (s *Service) ResealSecrets(ctx context.Context, next keyring.Sealer) (int, error) {
	rows, err := s.store.ListApps(ctx)
	if err != nil {
		return 0, fmt.Errorf("app: reseal: %w", err)
	}
	n := 0
	for _, r := range rows {
		if r.SecretKeyID == next.KeyID() {
			continue
		}
		secret, err := s.sealer.Open(r.SealedSecret, aad(r.SDKAppID))
		if err != nil {
			return n, fmt.Errorf("app %d: reseal: %w", r.SDKAppID, err)
		}
		sealed, err := next.Seal(secret, aad(r.SDKAppID))
		if err != nil {
			return n, fmt.Errorf("app %d: reseal: %w", r.SDKAppID, err)
		}
		s.forget(r.SDKAppID)
		if err := s.store.UpdateAppSecret(ctx, r.SDKAppID, sealed, next.KeyID()); err != nil {
			return n, fmt.Errorf("app %d: reseal: %w", r.SDKAppID, err)
		}
		n++
	}
	return n, nil
}

// ResealKeys reseals the callback signing keys of the given apps under
// next, skipping those already under it.
func (c *Callbacks) ResealKeys(ctx context.Context, apps []uint32, next keyring.Sealer) (int, error) {
	n := 0
	for _, id := range apps {
		row, err := c.st.GetAppCallback(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("app %d: reseal callback key: %w", id, err)
		}
		if row.KeyID == next.KeyID() {
			continue
		}
		key, err := c.sealer.Open(row.SealedKey, callbackAAD(id))
		if err != nil {
			return n, fmt.Errorf("app %d: reseal callback key: %w", id, err)
		}
		if row.SealedKey, err = next.Seal(key, callbackAAD(id)); err != nil {
			return n, err
		}
		row.KeyID = next.KeyID()
		if err := c.st.PutAppCallback(ctx, row); err != nil {
			return n, fmt.Errorf("app %d: reseal callback key: %w", id, err)
		}
		n++
	}
	return n, nil
}
