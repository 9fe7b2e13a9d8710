package inventory_test

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/protocol"
)

func mustDefault(t testing.TB) *inventory.Inventory {
	t.Helper()
	inv, err := inventory.Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	return inv
}

func readYAML(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("inventory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// proves COLLECT-1: the embedded inventory parses and validates.
func TestDefaultParses(t *testing.T) {
	inv := mustDefault(t)
	if len(inv.Elements) == 0 || len(inv.Switches) == 0 {
		t.Fatalf("empty inventory: %d elements, %d switches", len(inv.Elements), len(inv.Switches))
	}
	for _, s := range inv.Switches {
		if s.Default {
			t.Errorf("switch %s defaults on (COLLECT-5)", s.ID)
		}
	}
	if h := inv.Hash(); !strings.HasPrefix(h, "sha256:") || len(h) != len("sha256:")+64 {
		t.Errorf("Hash() = %q", h)
	}
	again := mustDefault(t)
	if inv.Hash() != again.Hash() {
		t.Error("Hash differs between two parses of the same document")
	}
}

func TestLookups(t *testing.T) {
	inv := mustDefault(t)
	e, ok := inv.Element("quality.rtt_ms")
	if !ok || e.ID != "quality.rtt_ms" || e.Wire == nil || e.Wire.Section != protocol.SectionQuality {
		t.Fatalf("Element(quality.rtt_ms) = %+v, %t", e, ok)
	}
	if _, ok := inv.Element("quality.nope"); ok {
		t.Error("Element found an undeclared id")
	}
	if got := inv.SwitchFor("quality.rtt_ms"); got != "ext.apm" {
		t.Errorf("SwitchFor(quality.rtt_ms) = %q", got)
	}
	if got := inv.SwitchFor("device.battery_pct"); got != "field.device.battery_pct" {
		t.Errorf("SwitchFor(device.battery_pct) = %q", got)
	}
	if got := inv.SwitchFor("network.ip_address"); got != "" {
		t.Errorf("SwitchFor(network.ip_address) = %q, want none", got)
	}
	if got := inv.SwitchFor("no.such"); got != "" {
		t.Errorf("SwitchFor(no.such) = %q", got)
	}
	for _, sec := range []string{protocol.SectionQuality, protocol.SectionStreams, protocol.SectionDevice, protocol.SectionEvents} {
		els := inv.Section(sec)
		if len(els) == 0 {
			t.Errorf("Section(%s) is empty", sec)
		}
		for _, e := range els {
			if e.Wire.Section != sec {
				t.Errorf("Section(%s) returned %s in %s", sec, e.ID, e.Wire.Section)
			}
		}
	}
	if got := inv.Section("nope"); len(got) != 0 {
		t.Errorf("Section(nope) = %d elements", len(got))
	}
	if e, _ := inv.Element("device.battery_pct"); e.OnPlatform("web") || !e.OnPlatform("android") {
		t.Errorf("battery platforms = %v", e.Platforms)
	}
	if e, _ := inv.Element("device.battery_pct"); e.Enabled(nil) || !e.Enabled(map[string]bool{"field.device.battery_pct": true}) {
		t.Error("Enabled ignores the field switch")
	}
	// A hand-built inventory (no index) still answers.
	hand := &inventory.Inventory{Elements: inv.Elements, Switches: inv.Switches}
	if e, ok := hand.Element("event.type"); !ok || e.ID != "event.type" {
		t.Error("hand-built inventory lookup failed")
	}
	if hand.Hash() != inv.Hash() {
		t.Error("hash of the same content differs")
	}
	if _, ok := inv.Switch("ext.apm"); !ok {
		t.Error("Switch(ext.apm) not found")
	}
}

// Every optional element has a switch, every field switch controls its
// own optional element, and operator data has no platform (COLLECT-5).
func TestSwitchRules(t *testing.T) {
	inv := mustDefault(t)
	for _, e := range inv.Elements {
		if !e.Required && e.Switch == "" {
			t.Errorf("%s is optional without a switch", e.ID)
		}
		if strings.HasPrefix(e.Switch, inventory.FieldSwitchPrefix) && e.Switch != inventory.FieldSwitchPrefix+e.ID {
			t.Errorf("%s has someone else's field switch %s", e.ID, e.Switch)
		}
		if e.Purpose == inventory.PurposeOperator && len(e.Platforms) != 0 {
			t.Errorf("operator element %s has platforms", e.ID)
		}
	}
}

// docRow is one row of a markdown table, split on unescaped pipes.
func docRows(t *testing.T, md, heading string) [][]string {
	t.Helper()
	i := strings.Index(md, heading)
	if i < 0 {
		t.Fatalf("docs/inventory.md: no %q", heading)
	}
	rest := md[i+len(heading):]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	var rows [][]string
	for _, line := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		line = strings.ReplaceAll(line, `\|`, "\x00")
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for k := range cells {
			cells[k] = strings.TrimSpace(strings.ReplaceAll(cells[k], "\x00", "|"))
		}
		rows = append(rows, cells)
	}
	return rows
}

func unquote(cell string) string { return strings.Trim(cell, "`") }

var (
	typeInt    = regexp.MustCompile(`^int\[(\d+),(\d+)\]$`)
	typeString = regexp.MustCompile(`^string\((\d+)\)`)
	typeEnum   = regexp.MustCompile(`^enum\(([^)]*)\)$`)
)

// The contract table in docs/inventory.md and the YAML name the same
// elements with the same required flag, switch, purpose, wire section,
// wire type and storage: the doc and the YAML stay in step.
func TestDocTableMatchesYAML(t *testing.T) {
	inv := mustDefault(t)
	b, err := os.ReadFile("../../../docs/inventory.md")
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	rows := docRows(t, md, "## Elements")
	if len(rows) == 0 {
		t.Fatal("no element rows in docs/inventory.md")
	}
	inDoc := map[string]bool{}
	for _, r := range rows {
		if len(r) != 7 {
			t.Errorf("row %v: %d cells, want 7", r, len(r))
			continue
		}
		id := unquote(r[0])
		inDoc[id] = true
		e, ok := inv.Element(id)
		if !ok {
			t.Errorf("%s: in docs/inventory.md, not in inventory.yaml", id)
			continue
		}
		if want := r[1] == "yes"; e.Required != want {
			t.Errorf("%s: required %t, doc says %s", id, e.Required, r[1])
		}
		wantSwitch := unquote(r[2])
		if wantSwitch == "–" {
			wantSwitch = ""
		}
		if e.Switch != wantSwitch {
			t.Errorf("%s: switch %q, doc says %q", id, e.Switch, wantSwitch)
		}
		wantPurpose := r[3]
		if wantPurpose == "(operator)" {
			wantPurpose = inventory.PurposeOperator
		}
		if e.Purpose != wantPurpose {
			t.Errorf("%s: purpose %q, doc says %q", id, e.Purpose, wantPurpose)
		}
		checkDocWire(t, e, r[4], r[5])
		checkDocStorage(t, e, r[6])
	}
	for _, e := range inv.Elements {
		if !inDoc[e.ID] {
			t.Errorf("%s: in inventory.yaml, not in docs/inventory.md", e.ID)
		}
	}

	// Switches: every named switch with its kind; field switches by rule.
	kinds := map[string]string{}
	for _, r := range docRows(t, md, "## Switches") {
		id := unquote(r[0])
		switch {
		case strings.Contains(r[1], "init key"):
			kinds[id] = inventory.KindInitKey
		case strings.Contains(r[1], "extension"):
			kinds[id] = inventory.KindExtension
		case strings.Contains(r[1], "optional field"):
			if id != "field.<element id>" {
				t.Errorf("unexpected field switch row %q", id)
			}
		default:
			t.Errorf("switch %s: unknown kind %q", id, r[1])
		}
	}
	for id, kind := range kinds {
		s, ok := inv.Switch(id)
		if !ok {
			t.Errorf("switch %s: in the doc, not in the YAML", id)
		} else if s.Kind != kind {
			t.Errorf("switch %s: kind %s, doc says %s", id, s.Kind, kind)
		}
	}
	for _, s := range inv.Switches {
		if s.Kind == inventory.KindField {
			e, ok := inv.Element(strings.TrimPrefix(s.ID, inventory.FieldSwitchPrefix))
			if !ok || e.Required || e.Switch != s.ID {
				t.Errorf("field switch %s does not control its optional element", s.ID)
			}
		} else if _, ok := kinds[s.ID]; !ok {
			t.Errorf("switch %s: in the YAML, not in the doc", s.ID)
		}
	}

	// Purposes.
	pi := strings.Index(md, "## Purposes")
	para := md[pi:]
	para = para[:strings.Index(para, "(`protocol.Purpose")]
	purposeLine := para
	var docPurposes []string
	for _, m := range regexp.MustCompile("`([a-z]+)`").FindAllStringSubmatch(purposeLine, -1) {
		docPurposes = append(docPurposes, m[1])
	}
	want := slices.DeleteFunc(inventory.Purposes(), func(p string) bool { return p == inventory.PurposeOperator })
	if !slices.Equal(docPurposes, want) {
		t.Errorf("doc purposes %v, inventory %v", docPurposes, want)
	}
}

func checkDocWire(t *testing.T, e *inventory.Element, section, typ string) {
	t.Helper()
	if section == "-" {
		if e.Wire != nil {
			t.Errorf("%s: has wire section %s, doc says none", e.ID, e.Wire.Section)
		}
		return
	}
	if e.Wire == nil {
		t.Errorf("%s: no wire, doc says section %s", e.ID, section)
		return
	}
	if e.Wire.Section != section {
		t.Errorf("%s: section %s, doc says %s", e.ID, e.Wire.Section, section)
	}
	w := e.Wire
	atoi := func(s string) int64 {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	switch {
	case strings.HasPrefix(typ, "prefix"):
		if w.Type != inventory.TypePrefix {
			t.Errorf("%s: type %s, doc says prefix", e.ID, w.Type)
		}
	case typeInt.MatchString(typ):
		m := typeInt.FindStringSubmatch(typ)
		if w.Type != inventory.TypeInt || w.Min != atoi(m[1]) || w.Max != atoi(m[2]) {
			t.Errorf("%s: %s[%d,%d], doc says %s", e.ID, w.Type, w.Min, w.Max, typ)
		}
	case strings.HasPrefix(typ, "int "):
		if w.Type != inventory.TypeInt {
			t.Errorf("%s: type %s, doc says %s", e.ID, w.Type, typ)
		}
	case typeString.MatchString(typ):
		m := typeString.FindStringSubmatch(typ)
		if w.Type != inventory.TypeString || int64(w.MaxLen) != atoi(m[1]) {
			t.Errorf("%s: %s(%d), doc says %s", e.ID, w.Type, w.MaxLen, typ)
		}
	case typeEnum.MatchString(typ):
		m := typeEnum.FindStringSubmatch(typ)
		if w.Type != inventory.TypeEnum || !slices.Equal(w.Enum, strings.Split(m[1], "|")) {
			t.Errorf("%s: %s%v, doc says %s", e.ID, w.Type, w.Enum, typ)
		}
	default:
		t.Errorf("%s: cannot read doc type %q", e.ID, typ)
	}
}

func checkDocStorage(t *testing.T, e *inventory.Element, stored string) {
	t.Helper()
	check := func(ok bool, what string) {
		if !ok {
			t.Errorf("%s: doc says %q, YAML disagrees (%s)", e.ID, stored, what)
		}
	}
	if strings.Contains(stored, "never") || strings.Contains(stored, "not stored") {
		check(!e.Stored, "stored")
	} else {
		check(e.Stored, "not stored")
	}
	if strings.Contains(stored, "14 d") {
		check(e.Retention.TTL == "14d", "retention "+e.Retention.TTL)
	}
	if strings.Contains(stored, "unless recording") {
		check(e.WhenRecording != nil, "no when_recording")
	}
	if strings.Contains(stored, "while logged in") {
		check(e.Retention.TTL == inventory.TTLWhileLoggedIn, "retention "+e.Retention.TTL)
	}
	if strings.Contains(stored, "while the board exists") {
		check(e.Retention.TTL == inventory.TTLWhileBoardExists, "retention "+e.Retention.TTL)
	}
	if strings.Contains(stored, "while the app exists, ≤ 7 d after termination") {
		check(e.Retention.TTL == inventory.TTLWhileAppExists, "retention "+e.Retention.TTL)
	}
	if strings.Contains(stored, "default 7 d") {
		check(e.Retention.TTL == inventory.TTLAppConfigured && e.Retention.Default == "7d", "retention "+e.Retention.TTL)
	}
	if strings.Contains(stored, "sealed") {
		check(e.AtRest == "seal", "at_rest "+e.AtRest)
	}
	if strings.Contains(stored, "pseudonymised") {
		check(e.AtRest == "pseudonymise", "at_rest "+e.AtRest)
	}
	if strings.Contains(stored, "consent ledger") {
		check(e.Store == "consent_ledger", "store "+e.Store)
	}
	if strings.Contains(stored, "de-identified prefix") {
		check(e.OnDevice == "ip_truncate", "on_device "+e.OnDevice)
	}
	if strings.Contains(stored, "troubleshooting") {
		check(e.Store == "troubleshooting", "store "+e.Store)
	}
}

// Parse rejects every broken rule with ErrInvalid; where the YAML decoder
// or the rule knows the position, the message carries the line.
func TestParseRejects(t *testing.T) {
	good := readYAML(t)
	elem := "  - id: quality.rtt_ms\n"
	cases := []struct {
		name, old, new string
		want           string // substring of the error
	}{
		{"unknown key", elem, elem + "    colour: blue\n", "field colour not found"},
		{"duplicate id", "  - id: quality.jitter_ms\n", "  - id: quality.rtt_ms\n", `duplicate id`},
		{"undeclared switch", "    switch: ext.apm\n    purpose: quality\n    purpose_text: &quality_purpose", "    switch: ext.nope\n    purpose: quality\n    purpose_text: &quality_purpose", `switch "ext.nope" is not declared`},
		{"unknown purpose", "    purpose: feedback\n    purpose_text: {en: \"Troubleshooting the problem", "    purpose: marketing\n    purpose_text: {en: \"Troubleshooting the problem", `purpose "marketing"`},
		{"optional without switch", "    required: false\n    switch: field.feedback.text\n", "    required: false\n", "optional element needs a switch"},
		{"bad wire type", "wire: {section: quality, type: int, min: 0, max: 6}", "wire: {section: quality, type: double, min: 0, max: 6}", `type "double"`},
		{"min above max", "wire: {section: quality, type: int, min: 0, max: 6}", "wire: {section: quality, type: int, min: 7, max: 6}", "min 7 > max 6"},
		{"string without maxlen", "wire: {section: device, type: string, maxlen: 128}", "wire: {section: device, type: string}", "maxlen"},
		{"bad section", "wire: {section: quality, type: int, min: 0, max: 6}", "wire: {section: qos, type: int, min: 0, max: 6}", `section "qos"`},
		{"switch on by default", "  - id: ext.rts\n    kind: extension\n    label: {en: \"Real-time signaling (RTS)\", zh: \"实时信令（RTS）\"}\n    default: false", "  - id: ext.rts\n    kind: extension\n    label: {en: \"Real-time signaling (RTS)\", zh: \"实时信令（RTS）\"}\n    default: true", "default must be false"},
		{"missing key", "    sensitive: false\n    wire: {section: quality, type: int, min: 0, max: 6}", "    wire: {section: quality, type: int, min: 0, max: 6}", `without "sensitive"`},
		{"second document", "", "", "more than one YAML document"},
		{"ephemeral but stored", "type: PSL_USER_ACCOUNT, ephemeral: false", "type: PSL_USER_ACCOUNT, ephemeral: true", "play.ephemeral must be false"},
		{"tracking", "type: NSPrivacyCollectedDataTypeUserID, linked: true, tracking: false", "type: NSPrivacyCollectedDataTypeUserID, linked: true, tracking: true", "tracking must be false"},
		{"unknown platform", "    platforms: [android, ios, harmony]\n", "    platforms: [android, ios, symbian]\n", `platform "symbian"`},
		{"bad retention", "    retention: {ttl: while_board_exists}", "    retention: {ttl: forever}", `ttl "forever"`},
		{"wrong type", "    required: false\n    switch: field.feedback.text\n", "    required: maybe\n    switch: field.feedback.text\n", "cannot unmarshal"},
		{"unknown fides category", "category: user.sensor,", "category: user.mood,", `fideslang.category "user.mood"`},
		{"permission on other platform", "      - os: android\n        name: android.permission.WRITE_EXTERNAL_STORAGE", "      - os: web\n        name: android.permission.WRITE_EXTERNAL_STORAGE", "not one of the element's platforms"},
		{"not stored with store", "    stored: false\n    store: none\n    retention: {ttl: none}\n    region: device", "    stored: false\n    store: messages\n    retention: {ttl: none}\n    region: device", "store none and retention none"},
		{"unused switch", "switches:\n", "switches:\n  - id: ext.unused\n    kind: extension\n    label: {en: x, zh: x}\n", `switch "ext.unused": no element uses it`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := good
			if c.name == "second document" {
				doc += "\n---\nswitches: []\n"
			} else {
				if !strings.Contains(doc, c.old) {
					t.Fatalf("test fixture: %q not in inventory.yaml", c.old)
				}
				doc = strings.Replace(doc, c.old, c.new, 1)
			}
			_, err := inventory.Parse([]byte(doc))
			if !errors.Is(err, inventory.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "line ") {
				t.Errorf("err = %v: no line number", err)
			}
		})
	}
	for _, doc := range []string{"", "[]", "switches: []\n", "switches: []\nelements: []\n"} {
		if _, err := inventory.Parse([]byte(doc)); !errors.Is(err, inventory.ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", doc, err)
		}
	}
}
