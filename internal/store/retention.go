package store

import (
	"context"
	"time"
)

// RetentionStore reports the oldest record of the stores the retention
// engine sweeps by time, for `parley retention status` (issue 5, RETAIN-1
// and RETAIN-3). ok is false when the store is empty.
type RetentionStore interface {
	OldestIMMessage(ctx context.Context) (at time.Time, ok bool, err error)
	OldestFinishedWebhook(ctx context.Context) (at time.Time, ok bool, err error)
	OldestIMPushToken(ctx context.Context) (at time.Time, ok bool, err error)
}
