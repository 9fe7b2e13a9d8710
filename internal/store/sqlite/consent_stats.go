package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/parley-rtc/parley/internal/store"
)

// consentBreakdownQuery groups the latest entry of each (user, device) of
// an app by its clear columns. The pairs are found by their references
// (user_id and device_id are blind-index values: grouping by them needs no
// key and reveals nothing); the sealed device id and guardian reference
// are never read, except the 8-byte key id that prefixes every sealed
// value, which tells whether the entry's key still exists. An entry whose
// key was destroyed is erased and drops out of the join, as in
// ConsentStats. The groups number the distinct (action, version, method,
// purpose set) combinations, a handful, whatever the ledger's size.
const consentBreakdownQuery = `SELECT l.action, l.policy_version, l.method, l.purposes, COUNT(*)
	FROM consent_ledger l
	JOIN (SELECT MAX(id) AS id FROM consent_ledger WHERE sdkappid = ?
	      GROUP BY user_id, device_id) latest ON l.id = latest.id
	JOIN subject_keys k ON k.key_id = lower(hex(substr(l.device_sealed, 1, 8)))
	GROUP BY l.action, l.policy_version, l.method, l.purposes`

// ConsentBreakdown implements store.ConsentStore. Granted and Withdrawn
// are the sums of the same groups, so they always agree with the
// breakdown (and with ConsentStats, which uses the same latest-entry and
// erasure rules).
func (db *DB) ConsentBreakdown(ctx context.Context, sdkAppID uint32) (store.ConsentBreakdown, error) {
	if err := db.consentReady(ctx); err != nil {
		return store.ConsentBreakdown{}, fmt.Errorf("sqlite: consent breakdown of app %d: %w", sdkAppID, err)
	}
	rows, err := db.read.QueryContext(ctx, consentBreakdownQuery, int64(sdkAppID))
	if err != nil {
		return store.ConsentBreakdown{}, fmt.Errorf("sqlite: consent breakdown of app %d: %w", sdkAppID, err)
	}
	defer rows.Close()
	var (
		b         store.ConsentBreakdown
		byVersion = map[string]*store.ConsentVersionCount{}
		byPurpose = map[string]int{}
		byMethod  = map[string]int{}
	)
	for rows.Next() {
		var (
			action, version, method, purposes string
			n                                 int
		)
		if err := rows.Scan(&action, &version, &method, &purposes, &n); err != nil {
			return store.ConsentBreakdown{}, fmt.Errorf("sqlite: consent breakdown of app %d: %w", sdkAppID, err)
		}
		v := byVersion[version]
		if v == nil {
			v = &store.ConsentVersionCount{Version: version}
			byVersion[version] = v
		}
		switch store.ConsentAction(action) {
		case store.ConsentGrant:
			b.Granted += n
			v.Grants += n
			byMethod[method] += n
			// Stored sorted and unique (AppendConsent), so each
			// purpose counts a pair once.
			for p := range strings.SplitSeq(purposes, ",") {
				if p != "" {
					byPurpose[p] += n
				}
			}
		case store.ConsentWithdraw:
			b.Withdrawn += n
			v.Withdrawals += n
		default:
			// The schema's CHECK allows no other action.
			return store.ConsentBreakdown{}, fmt.Errorf("sqlite: consent breakdown of app %d: unknown action %q", sdkAppID, action)
		}
	}
	if err := rows.Err(); err != nil {
		return store.ConsentBreakdown{}, fmt.Errorf("sqlite: consent breakdown of app %d: %w", sdkAppID, err)
	}
	for _, v := range byVersion {
		b.ByVersion = append(b.ByVersion, *v)
	}
	slices.SortFunc(b.ByVersion, func(x, y store.ConsentVersionCount) int {
		return cmp.Or(cmp.Compare(y.Grants+y.Withdrawals, x.Grants+x.Withdrawals), cmp.Compare(x.Version, y.Version))
	})
	for p, n := range byPurpose {
		b.ByPurpose = append(b.ByPurpose, store.ConsentPurposeCount{Purpose: p, Grants: n})
	}
	slices.SortFunc(b.ByPurpose, func(x, y store.ConsentPurposeCount) int {
		return cmp.Or(cmp.Compare(y.Grants, x.Grants), cmp.Compare(x.Purpose, y.Purpose))
	})
	for m, n := range byMethod {
		b.ByMethod = append(b.ByMethod, store.ConsentMethodCount{Method: m, Grants: n})
	}
	slices.SortFunc(b.ByMethod, func(x, y store.ConsentMethodCount) int {
		return cmp.Or(cmp.Compare(y.Grants, x.Grants), cmp.Compare(x.Method, y.Method))
	})
	return b, nil
}
