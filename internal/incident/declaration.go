// Package incident is Parley's security-incident response (PROMISES
// SEC-3): an operator declares an incident — what happened, the data
// categories involved, impact, measures taken, advice, remedies and a
// contact — and Parley works out which apps and how many of their users
// are affected, records the incident (the console notice), appends an
// audit-log record per app, and notifies each app's backend through the
// signed, durable webhook outbox.
//
// # Counting affected users
//
// A category is an inventory element id. Each element is stored in an
// inventory store; the stores that name users are the consent ledger,
// message history, push tokens (one identifier form) and the telemetry
// partitions (a per-app binary pseudonym). identity.user_id and
// identity.device_id are keys of every one of them. Distinct users are
// counted inside SQLite, so no identifier is ever read into Parley's
// memory or printed. Users are deduplicated across the stores that share
// an identifier form; the telemetry pseudonym cannot be joined to them
// without reading values, so the count reported to the app
// (AffectedUsers) is an upper bound — the two counts added — and
// AffectedUsersMin, the larger of the two, a lower bound. Per-store
// counts come with both.
package incident

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
)

// Limits of a declaration.
const (
	// MaxTextLen bounds each text field in bytes.
	MaxTextLen = 4000
	// MaxApps bounds an explicit app list.
	MaxApps = 1000
)

// Declaration is what the operator declares.
type Declaration struct {
	// AllApps selects every app; otherwise Apps lists SDKAppIDs.
	AllApps bool
	Apps    []uint32
	// Categories are inventory element ids.
	Categories []string
	// Since starts the window: only data recorded at or after it counts
	// (an incident that exposed new data only). Zero: every stored
	// record (a copy of the store leaked).
	Since time.Time

	// The notification text (PIPL art. 57; seeds 001 and 004). None of it
	// may hold personal data: it goes to every affected app.
	WhatHappened string // 基本情况 and cause
	Impact       string // 可能的影响 / possible harm
	Measures     string // 已经采取或将要采取的处置措施
	Advice       string // 自主防范和降低风险的建议 / what individuals can do
	Remedies     string // 补救措施
	Contact      string // 联系方式
}

// ParseApps parses the --apps flag: "all", or comma-separated SDKAppIDs
// (decimal, 1-4294967295, no duplicates, at most MaxApps).
func ParseApps(s string) (all bool, ids []uint32, err error) {
	s = strings.TrimSpace(s)
	if s == "all" {
		return true, nil, nil
	}
	if s == "" {
		return false, nil, fmt.Errorf("%w: --apps: give comma-separated SDKAppIDs or \"all\"", ErrInvalid)
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxApps {
		return false, nil, fmt.Errorf("%w: --apps: %d apps, at most %d (use \"all\")", ErrInvalid, len(parts), MaxApps)
	}
	seen := make(map[uint32]bool, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil || n == 0 || p != strconv.FormatUint(n, 10) {
			return false, nil, fmt.Errorf("%w: --apps item %d %q: want an SDKAppID (1-%d) or \"all\" alone", ErrInvalid, i+1, clip(p), uint64(math.MaxUint32))
		}
		id := uint32(n)
		if seen[id] {
			return false, nil, fmt.Errorf("%w: --apps: SDKAppID %d listed twice", ErrInvalid, id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return false, ids, nil
}

// ParseCategories parses the --categories flag: comma-separated
// inventory element ids, each known to inv. The result is sorted and
// without duplicates. An unknown id is named in the error, with the
// element ids that share its prefix as suggestions.
func ParseCategories(s string, inv *inventory.Inventory) ([]string, error) {
	var out []string
	for i, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("%w: --categories item %d is empty: give comma-separated inventory element ids", ErrInvalid, i+1)
		}
		if _, ok := inv.Element(p); !ok {
			return nil, unknownCategory(p, inv)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}

func unknownCategory(id string, inv *inventory.Inventory) error {
	prefix, _, _ := strings.Cut(id, ".")
	var near []string
	for i := range inv.Elements {
		e := inv.Elements[i].ID
		if strings.HasPrefix(e, prefix+".") || strings.HasPrefix(id, e) {
			near = append(near, e)
		}
	}
	if len(near) > 8 {
		near = near[:8]
	}
	hint := "see docs/inventory.md or 'parley disclosure' for the element ids"
	if len(near) > 0 {
		hint = "known ids with that prefix: " + strings.Join(near, ", ")
	}
	return fmt.Errorf("%w %q: not an inventory element id (%s)", ErrUnknownCategory, clip(id), hint)
}

// clip shortens user input quoted in an error.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	for i := 64; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}

// Validate checks d against inv at now.
func (d Declaration) Validate(inv *inventory.Inventory, now time.Time) error {
	if d.AllApps == (len(d.Apps) > 0) {
		return fmt.Errorf("%w: give either every app or a list of SDKAppIDs", ErrInvalid)
	}
	if len(d.Categories) == 0 {
		return fmt.Errorf("%w: --categories: at least one data category is required (PIPL art. 57: the categories involved)", ErrInvalid)
	}
	for _, c := range d.Categories {
		if _, ok := inv.Element(c); !ok {
			return unknownCategory(c, inv)
		}
	}
	for _, f := range []struct{ flag, v string }{
		{"--what", d.WhatHappened}, {"--impact", d.Impact}, {"--measures", d.Measures},
		{"--advice", d.Advice}, {"--remedies", d.Remedies}, {"--contact", d.Contact},
	} {
		switch {
		case strings.TrimSpace(f.v) == "":
			return fmt.Errorf("%w: %s is required (PIPL art. 57, seeds 001 and 004)", ErrInvalid, f.flag)
		case len(f.v) > MaxTextLen:
			return fmt.Errorf("%w: %s is %d bytes, at most %d", ErrInvalid, f.flag, len(f.v), MaxTextLen)
		case !utf8.ValidString(f.v):
			return fmt.Errorf("%w: %s is not UTF-8", ErrInvalid, f.flag)
		}
	}
	if !d.Since.IsZero() && d.Since.After(now) {
		return fmt.Errorf("%w: --since %s is after the declaration (%s)", ErrInvalid,
			d.Since.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}
