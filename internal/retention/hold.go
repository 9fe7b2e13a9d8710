package retention

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrHoldExpiry means a hold's expiry could not be worked out from what
// the operator gave.
var ErrHoldExpiry = errors.New("retention: hold expiry")

// HoldExpiry is when a hold recorded at now ends: until is a date
// (2027-01-31, held through the end of that UTC day) or an RFC 3339
// time; forDur is a number of days ("90d") or a Go duration ("36h").
// Exactly one must be given: a hold without an end is refused. The
// three-year bound is the store's (store.MaxHoldDuration).
func HoldExpiry(now time.Time, until, forDur string) (time.Time, error) {
	switch {
	case until == "" && forDur == "":
		return time.Time{}, fmt.Errorf("%w: an expiry is mandatory: give --until DATE or --for DURATION", ErrHoldExpiry)
	case until != "" && forDur != "":
		return time.Time{}, fmt.Errorf("%w: give --until or --for, not both", ErrHoldExpiry)
	}
	end, err := parseUntil(until)
	if forDur != "" {
		var d time.Duration
		d, err = parseDays(forDur)
		end = now.Add(d)
	}
	if err != nil {
		return time.Time{}, err
	}
	if !end.After(now) {
		return time.Time{}, fmt.Errorf("%w: %s is not in the future", ErrHoldExpiry, end.UTC().Format(time.RFC3339))
	}
	return end.UTC(), nil
}

func parseUntil(s string) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d.Add(24 * time.Hour), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: --until %q: want a date (2027-01-31) or an RFC 3339 time", ErrHoldExpiry, s)
	}
	return t, nil
}

func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 100*365 {
			return 0, fmt.Errorf("%w: --for %q: want a positive number of days (90d)", ErrHoldExpiry, s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%w: --for %q: want days (90d) or a positive duration (36h)", ErrHoldExpiry, s)
	}
	return d, nil
}
