package incident

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/store"
)

// EventType is the notification's event type.
const EventType = "Parley.SecurityIncident"

// Sources returns the stores whose rows name a user and hold element e.
// The user and install ids are keys of every such store; other elements
// count in the store the inventory names for them. Elements kept nowhere
// per user (not stored, operator data, stores this server does not run
// yet) have none: they count no users, but the app is still notified.
func Sources(e *inventory.Element) []store.UserSource {
	switch e.ID {
	case "identity.user_id":
		return []store.UserSource{store.UserSourceConsent, store.UserSourceMessages, store.UserSourcePushTokens, store.UserSourceTelemetry}
	case "identity.device_id":
		return []store.UserSource{store.UserSourceConsent, store.UserSourcePushTokens, store.UserSourceTelemetry}
	}
	if !e.Stored {
		return nil
	}
	if s := store.UserSource(e.Store); s.Valid() {
		return []store.UserSource{s}
	}
	return nil
}

// sourcesOf is the union of the categories' sources, in a fixed order.
func sourcesOf(inv *inventory.Inventory, categories []string) []store.UserSource {
	var out []store.UserSource
	for _, c := range categories {
		e, ok := inv.Element(c)
		if !ok {
			continue
		}
		for _, s := range Sources(e) {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Category is a data category as the notification names it.
type Category struct {
	ID      string `json:"id"`
	Label   string `json:"label"`
	LabelZh string `json:"label_zh"`
}

// categories labels ids from the inventory.
func categories(inv *inventory.Inventory, ids []string) []Category {
	out := make([]Category, 0, len(ids))
	for _, id := range ids {
		c := Category{ID: id}
		if e, ok := inv.Element(id); ok {
			c.Label, c.LabelZh = e.Label.En, e.Label.Zh
		}
		out = append(out, c)
	}
	return out
}

// Notification is the JSON body sent to each affected app. Its fields are
// what the law and the seeds require a notice to say:
//
//   - PIPL art. 57 (1): the categories of personal information involved
//     (Categories), the cause (WhatHappened) and the possible harm
//     (Impact); (2) the remedial measures taken (MeasuresTaken, Remedies)
//     and what individuals can do to reduce the harm (Advice); (3) how to
//     reach the handler (Contact).
//   - Seed 001 (5.2 安全管理制度): 安全事件的基本情况和可能的影响 (WhatHappened,
//     Impact), 已经采取或将要采取的处置措施 (MeasuresTaken), 您可自主防范和
//     降低风险的建议 (Advice), 对您的补救措施 (Remedies).
//   - Seed 004 ((二) 安全事件处置措施): 基本情况, 即将或已经采取的处置措施和
//     补救措施, 对第三方开发者和/或终端用户的应对建议 — the same fields.
//   - Seeds 000 (五、信息安全), 001 and 004: the developer is told by push
//     notification (this webhook) and announcement (the console notice,
//     `parley incident list`).
//
// AffectedUsers is an upper bound (see the package comment); the
// per-store counts and the lower bound come with it.
type Notification struct {
	EventType            string           `json:"EventType"`
	IncidentId           int64            `json:"IncidentId"`
	SdkAppId             uint32           `json:"SdkAppId"`
	DeclaredAt           string           `json:"DeclaredAt"`
	Since                string           `json:"Since,omitempty"`
	WhatHappened         string           `json:"WhatHappened"`
	Categories           []Category       `json:"Categories"`
	AffectedUsers        int64            `json:"AffectedUsers"`
	AffectedUsersMin     int64            `json:"AffectedUsersMin"`
	AffectedUsersByStore map[string]int64 `json:"AffectedUsersByStore"`
	Impact               string           `json:"Impact"`
	MeasuresTaken        string           `json:"MeasuresTaken"`
	Advice               string           `json:"Advice"`
	Remedies             string           `json:"Remedies"`
	Contact              string           `json:"Contact"`
}

// NotificationFor builds the notification of inc to app a.
func NotificationFor(inc store.Incident, a store.IncidentApp, inv *inventory.Inventory) Notification {
	n := Notification{
		EventType: EventType, IncidentId: inc.ID, SdkAppId: a.SDKAppID,
		DeclaredAt:   inc.DeclaredAt.UTC().Format(time.RFC3339Nano),
		WhatHappened: inc.WhatHappened, Categories: categories(inv, inc.Categories),
		AffectedUsers: a.AffectedUsers, AffectedUsersMin: a.AffectedUsersMin,
		AffectedUsersByStore: map[string]int64{},
		Impact:               inc.Impact, MeasuresTaken: inc.Measures, Advice: inc.Advice,
		Remedies: inc.Remedies, Contact: inc.Contact,
	}
	if !inc.Since.IsZero() {
		n.Since = inc.Since.UTC().Format(time.RFC3339Nano)
	}
	for k, v := range a.UsersBySource {
		n.AffectedUsersByStore[string(k)] = v
	}
	return n
}

// Body encodes the notification (map keys sorted: the same incident
// always gives the same bytes).
func (n Notification) Body() ([]byte, error) {
	b, err := json.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("incident: encode notification: %w", err)
	}
	return b, nil
}

// EventID is the webhook event id of inc's notification to app: the same
// for every enqueue of that pair, so a resumed declaration never sends it
// twice, and unique across data directories through the declaration time.
func EventID(inc store.Incident, app uint32) string {
	return fmt.Sprintf("incident-%d-%d-%d", inc.ID, inc.DeclaredAt.UnixMilli(), app)
}
