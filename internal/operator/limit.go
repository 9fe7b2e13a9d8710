package operator

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Login rate limit: LoginBurst attempts per name, refilled at
// LoginBurst per LoginWindow, counted whether the attempt succeeds or
// not and whether the name exists or not (so the limit says nothing
// about which names exist).
const (
	LoginBurst  = 5
	LoginWindow = time.Minute
	// maxLimitedNames bounds the limiter's memory; full limiters are
	// dropped first when it is reached.
	maxLimitedNames = 10_000
)

// loginLimiter keeps one token bucket per login name.
type loginLimiter struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newLoginLimiter() *loginLimiter { return &loginLimiter{m: map[string]*rate.Limiter{}} }

// RateLimitError is ErrRateLimited with the wait before the next allowed
// attempt.
type RateLimitError struct {
	RetryAfter time.Duration
	msg        string
}

func (e *RateLimitError) Error() string { return e.msg }

// Unwrap makes errors.Is(err, ErrRateLimited) hold.
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// allow takes one attempt for name at now, or returns a *RateLimitError.
func (l *loginLimiter) allow(name string, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[name]
	if lim == nil {
		if len(l.m) >= maxLimitedNames {
			for k, v := range l.m {
				if v.TokensAt(now) >= LoginBurst {
					delete(l.m, k)
				}
			}
		}
		if len(l.m) >= maxLimitedNames {
			return &RateLimitError{RetryAfter: LoginWindow,
				msg: fmt.Sprintf("%v: over %d different names tried within %s; retry later", ErrRateLimited, maxLimitedNames, LoginWindow)}
		}
		lim = rate.NewLimiter(rate.Every(LoginWindow/LoginBurst), LoginBurst)
		l.m[name] = lim
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		d = (d + time.Second - 1).Truncate(time.Second) // whole seconds, rounded up
		return &RateLimitError{RetryAfter: d,
			msg: fmt.Sprintf("%v for this name: at most %d per %s; retry in %s", ErrRateLimited, LoginBurst, LoginWindow, d)}
	}
	return nil
}
