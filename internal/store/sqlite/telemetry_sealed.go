package sqlite

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/parley-rtc/parley/internal/store"
)

// Device facts (the telemetry section store.SealedSection) are sealed with
// the user's data key, so erasing the user — or, for a backup, the
// keystore window passing — makes them unreadable with everything else
// about the user. The partitions' data column is TEXT, so a sealed value
// is stored as sealedPrefix and base64.

const sealedPrefix = "sealed:"

func telemetryAAD(r *store.TelemetryRecord) []byte {
	return fmt.Appendf(nil, "telemetry/%d/%x/%s", r.SDKAppID, r.UserRef, r.Section)
}

// ensureTelemetryKeys creates the data keys the batch's sealed sections
// need, before the write transaction.
func (db *DB) ensureTelemetryKeys(ctx context.Context, recs []store.TelemetryRecord) error {
	byApp := map[uint32][]string{}
	for i := range recs {
		if r := &recs[i]; r.UserID != "" && r.Section == store.SealedSection {
			byApp[r.SDKAppID] = append(byApp[r.SDKAppID], r.UserID)
		}
	}
	for app, users := range byApp {
		if err := db.ensureKeys(ctx, app, users...); err != nil {
			return err
		}
	}
	return nil
}

// telemetryData is the stored text of a record's data.
func (db *DB) telemetryData(ctx context.Context, r *store.TelemetryRecord) (string, error) {
	if r.UserID == "" || r.Section != store.SealedSection {
		return string(r.Data), nil
	}
	sealed, err := db.sealFor(ctx, db.read, r.SDKAppID, r.UserID, r.Data, telemetryAAD(r))
	if err != nil {
		return "", err
	}
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(sealed), nil
}

// openTelemetryData opens a stored data text; ok is false when it was
// sealed under a key that has been destroyed (the record is gone for
// every reader).
func (db *DB) openTelemetryData(ctx context.Context, r store.TelemetryRecord, data string) ([]byte, bool, error) {
	rest, sealed := strings.CutPrefix(data, sealedPrefix)
	if !sealed {
		return []byte(data), true, nil
	}
	b, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: telemetry data: %w", err)
	}
	pt, err := db.open(ctx, db.read, b, telemetryAAD(&r))
	if errors.Is(err, store.ErrErased) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: telemetry data: %w", err)
	}
	return pt, true, nil
}
