package disclosure

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
)

// PlayCSVHeader is the Play Console Data safety CSV header (REFERENCE §6.3).
func PlayCSVHeader() []string {
	return []string{"Question ID (machine readable)", "Response ID (machine readable)",
		"Response value", "Answer requirement", "Human-friendly question label"}
}

// playGroupLabel and playTypeLabel are the Play Console's English labels.
func playGroupLabel(g string) string {
	switch g {
	case "PSL_DATA_TYPES_PERSONAL":
		return "Personal info"
	case "PSL_DATA_TYPES_FINANCIAL":
		return "Financial info"
	case "PSL_DATA_TYPES_LOCATION":
		return "Location"
	case "PSL_DATA_TYPES_SEARCH_AND_BROWSING":
		return "Web browsing"
	case "PSL_DATA_TYPES_EMAIL_AND_TEXT":
		return "Messages"
	case "PSL_DATA_TYPES_PHOTOS_AND_VIDEOS":
		return "Photos and videos"
	case "PSL_DATA_TYPES_AUDIO":
		return "Audio"
	case "PSL_DATA_TYPES_HEALTH_AND_FITNESS":
		return "Health and fitness"
	case "PSL_DATA_TYPES_CONTACTS":
		return "Contacts"
	case "PSL_DATA_TYPES_CALENDAR":
		return "Calendar"
	case "PSL_DATA_TYPES_APP_PERFORMANCE":
		return "App info and performance"
	case "PSL_DATA_TYPES_FILES_AND_DOCS":
		return "Files and docs"
	case "PSL_DATA_TYPES_APP_ACTIVITY":
		return "App activity"
	case "PSL_DATA_TYPES_IDENTIFIERS":
		return "Device or other IDs"
	}
	return g
}

func playTypeLabel(t string) string {
	switch t {
	case "PSL_APPROX_LOCATION":
		return "Approximate location"
	case "PSL_PRECISE_LOCATION":
		return "Precise location"
	case "PSL_USER_ACCOUNT":
		return "User IDs"
	case "PSL_OTHER_APP_ACTIVITY":
		return "Other actions"
	case "PSL_USER_INTERACTION":
		return "App interactions"
	case "PSL_USER_GENERATED_CONTENT":
		return "Other user-generated content"
	case "PSL_DEVICE_ID":
		return "Device or other IDs"
	case "PSL_CRASH_LOGS":
		return "Crash logs"
	case "PSL_PERFORMANCE_DIAGNOSTICS":
		return "Diagnostics"
	case "PSL_OTHER_PERFORMANCE":
		return "Other app performance data"
	case "PSL_AUDIO":
		return "Voice or sound recordings"
	case "PSL_OTHER_AUDIO":
		return "Other audio files"
	case "PSL_PHOTOS":
		return "Photos"
	case "PSL_VIDEOS":
		return "Videos"
	case "PSL_OTHER_MESSAGES":
		return "Other in-app messages"
	}
	return t
}

func playPurposeLabel(p string) string {
	switch p {
	case "PSL_APP_FUNCTIONALITY":
		return "App functionality"
	case "PSL_ANALYTICS":
		return "Analytics"
	case "PSL_DEVELOPER_COMMUNICATIONS":
		return "Developer communications"
	case "PSL_FRAUD_PREVENTION_SECURITY":
		return "Fraud prevention, security, and compliance"
	case "PSL_ADVERTISING":
		return "Advertising or marketing"
	case "PSL_PERSONALIZATION":
		return "Personalization"
	case "PSL_ACCOUNT_MANAGEMENT":
		return "Account management"
	}
	return p
}

// playType is one Play data type, aggregated over its elements.
type playType struct {
	group, typ string
	// ephemeral only if every element of the type is processed
	// ephemerally (forwarded, not stored).
	ephemeral bool
	// optional only if the user can refuse every element of the type.
	optional bool
	purposes []string
	ids      []string
}

func (m *model) playTypes() []*playType {
	var types []*playType
	for _, it := range m.endUser {
		p := it.el.Play
		if p == nil || !it.leavesDevice() {
			continue
		}
		i := slices.IndexFunc(types, func(t *playType) bool { return t.typ == p.Type })
		if i < 0 {
			types = append(types, &playType{group: p.Group, typ: p.Type, ephemeral: true, optional: true})
			i = len(types) - 1
		}
		t := types[i]
		t.ephemeral = t.ephemeral && !it.stored
		t.optional = t.optional && it.userOptional()
		t.ids = append(t.ids, it.el.ID)
		for _, pu := range p.Purposes {
			if !slices.Contains(t.purposes, pu) {
				t.purposes = append(t.purposes, pu)
			}
		}
	}
	order := inventory.PlayPurposes()
	for _, t := range types {
		slices.SortFunc(t.purposes, func(a, b string) int { return slices.Index(order, a) - slices.Index(order, b) })
	}
	return types
}

func tf(v bool) string {
	if v {
		return "true"
	}
	return "false"
}

func trueOrEmpty(v bool) string {
	if v {
		return "true"
	}
	return ""
}

// renderPlayCSV writes the Play Data safety answers for the SDK's part of
// the app (REFERENCE §6.3): collection, encryption in transit and deletion,
// then for each data type its selection, collection (never shared:
// SHARE-1), ephemeral processing, user control and collection purposes.
// Account-creation and deletion-URL answers belong to the app and are left
// empty for it to fill in its Console export.
func renderPlayCSV(m *model) ([]byte, error) {
	types := m.playTypes()
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	rows := [][]string{PlayCSVHeader(),
		{"PSL_DATA_COLLECTION_COLLECTS_PERSONAL_DATA", "", tf(len(types) > 0), "REQUIRED", "Does your app collect or share any of the required user data types?"},
		{"PSL_DATA_COLLECTION_ENCRYPTED_IN_TRANSIT", "", "true", "MAYBE_REQUIRED", "Is all of the user data collected by your app encrypted in transit?"},
		{"PSL_SUPPORT_DATA_DELETION_BY_USER", "DATA_DELETION_YES", "true", "SINGLE_CHOICE", "Do you provide a way for users to request that their data is deleted? / Yes"},
		{"PSL_SUPPORT_DATA_DELETION_BY_USER", "DATA_DELETION_NO", "", "SINGLE_CHOICE", "Do you provide a way for users to request that their data is deleted? / No"},
		{"PSL_ACCOUNT_DELETION_URL", "", "", "MAYBE_REQUIRED", "Account deletion link (filled by the app)"},
		{"PSL_DATA_DELETION_URL", "", "", "MAYBE_REQUIRED", "Data deletion link (filled by the app)"},
	}
	for _, t := range types {
		rows = append(rows, []string{t.group, t.typ, "true", "MULTIPLE_CHOICE", playGroupLabel(t.group) + " / " + playTypeLabel(t.typ)})
	}
	for _, t := range types {
		q := "PSL_DATA_USAGE_RESPONSES:" + t.typ + ":"
		label := "Data usage and handling (" + playTypeLabel(t.typ) + ") / "
		rows = append(rows,
			[]string{q + "PSL_DATA_USAGE_COLLECTION_AND_SHARING", "PSL_DATA_USAGE_ONLY_COLLECTED", "true", "MULTIPLE_CHOICE", label + "Collected"},
			[]string{q + "PSL_DATA_USAGE_COLLECTION_AND_SHARING", "PSL_DATA_USAGE_ONLY_SHARED", "", "MULTIPLE_CHOICE", label + "Shared"},
			[]string{q + "PSL_DATA_USAGE_EPHEMERAL", "", tf(t.ephemeral), "MAYBE_REQUIRED", label + "Is this data processed ephemerally?"},
			[]string{q + "DATA_USAGE_USER_CONTROL", "PSL_DATA_USAGE_USER_CONTROL_OPTIONAL", trueOrEmpty(t.optional), "SINGLE_CHOICE", label + "Users can choose whether this data is collected"},
			[]string{q + "DATA_USAGE_USER_CONTROL", "PSL_DATA_USAGE_USER_CONTROL_REQUIRED", trueOrEmpty(!t.optional), "SINGLE_CHOICE", label + "Data collection is required"},
		)
		for _, p := range t.purposes {
			rows = append(rows, []string{q + "DATA_USAGE_COLLECTION_PURPOSE", p, "true", "MULTIPLE_CHOICE", label + "Why is this user data collected? / " + playPurposeLabel(p)})
		}
	}
	if err := cw.WriteAll(rows); err != nil {
		return nil, fmt.Errorf("disclosure: write csv: %w", err)
	}
	return b.Bytes(), nil
}
