package disclosure_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"howett.net/plist"

	"github.com/parley-rtc/parley/internal/privacy/disclosure"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/disclosure")

const goldenDir = "../../../testdata/disclosure"

func mustInventory(t testing.TB) *inventory.Inventory {
	t.Helper()
	inv, err := inventory.Default()
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// goldenConfig is a representative app: audio and video on, APM on, two
// optional fields on, user feedback on, recording off.
func goldenConfig() disclosure.AppConfig {
	return disclosure.AppConfig{
		SDKAppID: 1400000001,
		AppName:  "Demo",
		Switches: map[string]bool{
			"audio_enable": true, "streams_config": true, "ext.apm": true,
			"field.device.model": true, "field.network.type": true, "field.feedback.text": true,
			"field.device.battery_pct": false,
		},
		PolicyURL:     "https://example.com/privacy",
		PolicyVersion: "2026-01-01",
	}
}

func generate(t testing.TB, inv *inventory.Inventory, cfg disclosure.AppConfig, platform, lang, format string) []byte {
	t.Helper()
	b, err := disclosure.Generate(inv, cfg, disclosure.Options{Platform: platform, Lang: lang, Format: format, SDKVersion: "0.1.0"})
	if err != nil {
		t.Fatalf("Generate(%s, %s, %s): %v", platform, lang, format, err)
	}
	return b
}

func ext(format string) string {
	switch format {
	case disclosure.FormatText:
		return "txt"
	case disclosure.FormatMarkdown:
		return "md"
	case disclosure.FormatPlayCSV:
		return "csv"
	case disclosure.FormatFideslang:
		return "fides.yaml"
	}
	return format
}

// proves DISCLOSE-1: one golden disclosure per platform and format in
// English, and in Chinese for text and markdown on Android and Web. Run
// with -update after an intended inventory or wording change.
func TestGolden(t *testing.T) {
	inv := mustInventory(t)
	type job struct{ platform, lang, format string }
	var jobs []job
	for _, p := range inventory.Platforms() {
		for _, f := range disclosure.Formats() {
			jobs = append(jobs, job{p, "en", f})
		}
	}
	for _, p := range []string{"android", "web"} {
		for _, f := range []string{disclosure.FormatText, disclosure.FormatMarkdown} {
			jobs = append(jobs, job{p, "zh", f})
		}
	}
	for _, j := range jobs {
		got := generate(t, inv, goldenConfig(), j.platform, j.lang, j.format)
		path := filepath.Join(goldenDir, j.platform+"."+j.lang+"."+ext(j.format))
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator output (run go test -update after an intended change)", path)
		}
	}
}

func TestGenerateRejects(t *testing.T) {
	inv := mustInventory(t)
	cfg := goldenConfig()
	for _, o := range []disclosure.Options{
		{Platform: "symbian", Lang: "en", Format: "text"},
		{Platform: "ios", Lang: "fr", Format: "text"},
		{Platform: "ios", Lang: "en", Format: "pdf"},
	} {
		if _, err := disclosure.Generate(inv, cfg, o); !errors.Is(err, disclosure.ErrOptions) {
			t.Errorf("%+v: err = %v, want ErrOptions", o, err)
		}
	}
	cfg.Switches = map[string]bool{"field.device.imei": true}
	if _, err := disclosure.Generate(inv, cfg, disclosure.Options{Platform: "ios", Lang: "en", Format: "text"}); !errors.Is(err, disclosure.ErrConfig) {
		t.Errorf("undeclared switch: err = %v, want ErrConfig", err)
	}
	if _, err := disclosure.Generate(nil, goldenConfig(), disclosure.Options{Platform: "ios", Lang: "en", Format: "text"}); err == nil {
		t.Error("nil inventory accepted")
	}
}

// xcprivacyDoc is the privacy-manifest plist (Apple's keys).
type xcprivacyDoc struct {
	Tracking        bool     `plist:"NSPrivacyTracking"`
	TrackingDomains []string `plist:"NSPrivacyTrackingDomains"`
	Collected       []struct {
		Type     string   `plist:"NSPrivacyCollectedDataType"`
		Linked   bool     `plist:"NSPrivacyCollectedDataTypeLinked"`
		Tracking bool     `plist:"NSPrivacyCollectedDataTypeTracking"`
		Purposes []string `plist:"NSPrivacyCollectedDataTypePurposes"`
	} `plist:"NSPrivacyCollectedDataTypes"`
	AccessedAPITypes []map[string]any `plist:"NSPrivacyAccessedAPITypes"`
}

func parseXCPrivacy(t *testing.T, b []byte) xcprivacyDoc {
	t.Helper()
	var doc xcprivacyDoc
	format, err := plist.Unmarshal(b, &doc)
	if err != nil || format != plist.XMLFormat {
		t.Fatalf("not an XML plist (format %d): %v", format, err)
	}
	var keys map[string]any
	if _, err := plist.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"NSPrivacyTracking", "NSPrivacyTrackingDomains", "NSPrivacyCollectedDataTypes", "NSPrivacyAccessedAPITypes"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("xcprivacy: key %s missing", k)
		}
	}
	return doc
}

// The privacy manifest is a valid Apple plist: no tracking, no tracking
// domains, known data types and purposes, and no required-reason API.
func TestXCPrivacyIsPlist(t *testing.T) {
	inv := mustInventory(t)
	for _, p := range inventory.Platforms() {
		for _, rec := range []bool{false, true} {
			cfg := goldenConfig()
			cfg.Recording = rec
			doc := parseXCPrivacy(t, generate(t, inv, cfg, p, "en", disclosure.FormatXCPrivacy))
			if doc.Tracking || len(doc.TrackingDomains) != 0 || len(doc.AccessedAPITypes) != 0 {
				t.Errorf("%s: tracking %t, domains %v, APIs %v", p, doc.Tracking, doc.TrackingDomains, doc.AccessedAPITypes)
			}
			if len(doc.Collected) == 0 {
				t.Errorf("%s: no collected data types", p)
			}
			seen := map[string]bool{}
			for _, c := range doc.Collected {
				if !strings.HasPrefix(c.Type, "NSPrivacyCollectedDataType") || seen[c.Type] || c.Tracking || len(c.Purposes) == 0 {
					t.Errorf("%s: bad entry %+v", p, c)
				}
				seen[c.Type] = true
				for _, pu := range c.Purposes {
					if !slices.Contains(inventory.ApplePurposes(), strings.TrimPrefix(pu, "NSPrivacyCollectedDataTypePurpose")) {
						t.Errorf("%s: unknown purpose %s", p, pu)
					}
				}
			}
		}
	}
}

// The Play CSV has the Console header, parses with encoding/csv, uses only
// known question/response ids and boolean values, and answers every usage
// question for each data type it selects.
func TestPlayCSV(t *testing.T) {
	inv := mustInventory(t)
	types := inventory.PlayDataTypes()
	for _, p := range inventory.Platforms() {
		b := generate(t, inv, goldenConfig(), p, "en", disclosure.FormatPlayCSV)
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !slices.Equal(rows[0], disclosure.PlayCSVHeader()) ||
			strings.Join(rows[0], ",") != "Question ID (machine readable),Response ID (machine readable),Response value,Answer requirement,Human-friendly question label" {
			t.Fatalf("%s: header %q", p, rows[0])
		}
		selected := map[string]bool{}
		usage := map[string]int{}
		for _, r := range rows[1:] {
			q, resp, val := r[0], r[1], r[2]
			if !slices.Contains([]string{"", "true", "false"}, val) {
				t.Errorf("%s: %s/%s value %q", p, q, resp, val)
			}
			if !slices.Contains([]string{"REQUIRED", "MAYBE_REQUIRED", "MULTIPLE_CHOICE", "SINGLE_CHOICE", "OPTIONAL"}, r[3]) {
				t.Errorf("%s: %s requirement %q", p, q, r[3])
			}
			switch {
			case strings.HasPrefix(q, "PSL_DATA_TYPES_"):
				if types[resp] != q || val != "true" {
					t.Errorf("%s: data type row %s/%s=%s", p, q, resp, val)
				}
				selected[resp] = true
			case strings.HasPrefix(q, "PSL_DATA_USAGE_RESPONSES:"):
				parts := strings.Split(q, ":")
				if len(parts) != 3 || types[parts[1]] == "" {
					t.Errorf("%s: usage row %s", p, q)
					continue
				}
				if parts[2] == "PSL_DATA_USAGE_COLLECTION_AND_SHARING" && resp == "PSL_DATA_USAGE_ONLY_SHARED" && val != "" {
					t.Errorf("%s: %s shared (SHARE-1)", p, parts[1])
				}
				usage[parts[1]]++
			case slices.Contains([]string{"PSL_DATA_COLLECTION_COLLECTS_PERSONAL_DATA", "PSL_DATA_COLLECTION_ENCRYPTED_IN_TRANSIT",
				"PSL_SUPPORT_DATA_DELETION_BY_USER", "PSL_ACCOUNT_DELETION_URL", "PSL_DATA_DELETION_URL"}, q):
			default:
				t.Errorf("%s: unknown question %s", p, q)
			}
		}
		for typ := range selected {
			if usage[typ] < 6 {
				t.Errorf("%s: %s has %d usage rows", p, typ, usage[typ])
			}
		}
		for typ := range usage {
			if !selected[typ] {
				t.Errorf("%s: usage rows for unselected %s", p, typ)
			}
		}
	}
}

type fidesDoc struct {
	System []struct {
		FidesKey                   string            `yaml:"fides_key"`
		OrganizationFidesKey       string            `yaml:"organization_fides_key"`
		Name                       string            `yaml:"name"`
		Description                string            `yaml:"description"`
		SystemType                 string            `yaml:"system_type"`
		Meta                       map[string]string `yaml:"meta"`
		PrivacyPolicy              string            `yaml:"privacy_policy"`
		DoesInternationalTransfers bool              `yaml:"does_international_transfers"`
		DataSecurityPractices      string            `yaml:"data_security_practices"`
		PrivacyDeclarations        []struct {
			Name                       string   `yaml:"name"`
			DataCategories             []string `yaml:"data_categories"`
			DataUse                    string   `yaml:"data_use"`
			DataSubjects               []string `yaml:"data_subjects"`
			LegalBasisForProcessing    string   `yaml:"legal_basis_for_processing"`
			RetentionPeriod            string   `yaml:"retention_period"`
			DataSharedWithThirdParties bool     `yaml:"data_shared_with_third_parties"`
		} `yaml:"privacy_declarations"`
	} `yaml:"system"`
}

func parseFides(t *testing.T, b []byte) fidesDoc {
	t.Helper()
	var doc fidesDoc
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("fideslang does not parse: %v", err)
	}
	return doc
}

// The fideslang export parses with yaml.v3 and every declaration carries
// its element's taxonomy keys.
func TestFideslangParses(t *testing.T) {
	inv := mustInventory(t)
	for _, p := range inventory.Platforms() {
		doc := parseFides(t, generate(t, inv, goldenConfig(), p, "en", disclosure.FormatFideslang))
		if len(doc.System) != 2 {
			t.Fatalf("%s: %d systems", p, len(doc.System))
		}
		for _, s := range doc.System {
			if s.FidesKey == "" || s.SystemType == "" || len(s.PrivacyDeclarations) == 0 || s.Meta["inventory_hash"] != inv.Hash() {
				t.Errorf("%s: system %+v", p, s)
			}
			for _, d := range s.PrivacyDeclarations {
				e, ok := inv.Element(d.Name)
				if !ok {
					t.Errorf("%s: undeclared %s", p, d.Name)
					continue
				}
				if !slices.Equal(d.DataCategories, []string{e.Fides.Category}) || d.DataUse != e.Fides.Use ||
					!slices.Equal(d.DataSubjects, []string{e.Fides.Subject}) || d.DataSharedWithThirdParties {
					t.Errorf("%s: declaration %+v does not match %s", p, d, e.ID)
				}
			}
		}
	}
}

func parseJSON(t *testing.T, b []byte) disclosure.Document {
	t.Helper()
	var d disclosure.Document
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("json does not parse: %v", err)
	}
	return d
}

// The JSON disclosure parses and says what the inventory says.
func TestJSONParses(t *testing.T) {
	inv := mustInventory(t)
	for _, lang := range []string{"en", "zh"} {
		d := parseJSON(t, generate(t, inv, goldenConfig(), "android", lang, disclosure.FormatJSON))
		if d.Schema != disclosure.Schema || d.Policy.InventoryHash != inv.Hash() || d.SDK.Version != "0.1.0" || d.App.SDKAppID != 1400000001 {
			t.Errorf("%s: header %+v", lang, d)
		}
		for _, x := range append(append(d.Required, d.Optional...), d.OperatorData...) {
			e, ok := inv.Element(x.ID)
			if !ok {
				t.Fatalf("undeclared %s", x.ID)
			}
			if x.Label != e.Label.Lang(lang) || x.Purpose != e.PurposeText.Lang(lang) || x.Switch != e.Switch || x.Sensitive != e.Sensitive {
				t.Errorf("%s: %s does not match the inventory: %+v", lang, x.ID, x)
			}
		}
		for _, x := range d.Optional {
			if x.Switch == "" {
				t.Errorf("optional %s without switch", x.ID)
			}
		}
		if len(d.Permissions) == 0 {
			t.Error("android disclosure without permissions")
		}
	}
}

// proves COLLECT-3: audio and video are "forwarded, not stored" unless the
// app turns recording on; then they are stored data with the recording
// retention, in every format.
func TestRecordingVisibleInEveryFormat(t *testing.T) {
	inv := mustInventory(t)
	off, on := goldenConfig(), goldenConfig()
	on.Recording = true
	for _, lang := range []string{"en", "zh"} {
		for _, f := range disclosure.Formats() {
			a := generate(t, inv, off, "ios", lang, f)
			b := generate(t, inv, on, "ios", lang, f)
			if bytes.Equal(a, b) {
				t.Errorf("%s/%s: recording on and off give the same disclosure", lang, f)
			}
		}
	}
	// json: stored and recorded flags.
	for _, c := range []struct {
		cfg    disclosure.AppConfig
		stored bool
	}{{off, false}, {on, true}} {
		d := parseJSON(t, generate(t, inv, c.cfg, "ios", "en", disclosure.FormatJSON))
		for _, x := range d.Optional {
			if x.ID == "media.audio" || x.ID == "media.video" {
				if x.Stored != c.stored || x.Recorded != c.stored {
					t.Errorf("json recording=%t: %s stored=%t recorded=%t", c.cfg.Recording, x.ID, x.Stored, x.Recorded)
				}
				if !c.stored && x.Retention != "none" || c.stored && x.Retention != inventory.TTLAppConfigured {
					t.Errorf("json recording=%t: %s retention %s", c.cfg.Recording, x.ID, x.Retention)
				}
			}
		}
	}
	// xcprivacy: media is collected in Apple's sense only when stored.
	for _, c := range []struct {
		cfg  disclosure.AppConfig
		want bool
	}{{off, false}, {on, true}} {
		doc := parseXCPrivacy(t, generate(t, inv, c.cfg, "ios", "en", disclosure.FormatXCPrivacy))
		for _, typ := range []string{"NSPrivacyCollectedDataTypeAudioData", "NSPrivacyCollectedDataTypePhotosorVideos"} {
			has := slices.ContainsFunc(doc.Collected, func(x struct {
				Type     string   `plist:"NSPrivacyCollectedDataType"`
				Linked   bool     `plist:"NSPrivacyCollectedDataTypeLinked"`
				Tracking bool     `plist:"NSPrivacyCollectedDataTypeTracking"`
				Purposes []string `plist:"NSPrivacyCollectedDataTypePurposes"`
			}) bool {
				return x.Type == typ
			})
			if has != c.want {
				t.Errorf("xcprivacy recording=%t: %s present=%t", c.cfg.Recording, typ, has)
			}
		}
	}
	// play-csv: ephemeral without recording, not with it.
	for _, c := range []struct {
		cfg  disclosure.AppConfig
		want string
	}{{off, "true"}, {on, "false"}} {
		rows, err := csv.NewReader(bytes.NewReader(generate(t, inv, c.cfg, "ios", "en", disclosure.FormatPlayCSV))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range []string{"PSL_AUDIO", "PSL_VIDEOS"} {
			i := slices.IndexFunc(rows, func(r []string) bool { return r[0] == "PSL_DATA_USAGE_RESPONSES:"+typ+":PSL_DATA_USAGE_EPHEMERAL" })
			if i < 0 || rows[i][2] != c.want {
				t.Errorf("play-csv recording=%t: %s ephemeral row %v", c.cfg.Recording, typ, rows[max(i, 0)])
			}
		}
	}
	// fideslang: the retention period says so.
	for _, c := range []struct {
		cfg  disclosure.AppConfig
		want string
	}{{off, "not stored"}, {on, "recordings"}} {
		doc := parseFides(t, generate(t, inv, c.cfg, "ios", "en", disclosure.FormatFideslang))
		for _, d := range doc.System[0].PrivacyDeclarations {
			if d.Name == "media.audio" && !strings.Contains(d.RetentionPeriod, c.want) {
				t.Errorf("fideslang recording=%t: retention_period %q", c.cfg.Recording, d.RetentionPeriod)
			}
		}
	}
	// text and markdown: the storage line.
	for _, f := range []string{disclosure.FormatText, disclosure.FormatMarkdown} {
		for _, c := range []struct {
			cfg      disclosure.AppConfig
			lang     string
			want     string
			mustMiss string
		}{
			{off, "en", "not stored (encrypted and forwarded in real time", "cloud recording is on"},
			{on, "en", "cloud recording is on: cloud recording store", "not stored (encrypted and forwarded"},
			{off, "zh", "不存储（仅实时加密转发给 App 指定方）", "App 已开启云端录制"},
			{on, "zh", "App 已开启云端录制：云端录制存储", "不存储（仅实时加密转发"},
		} {
			s := string(generate(t, inv, c.cfg, "ios", c.lang, f))
			if !strings.Contains(s, c.want) || strings.Contains(s, c.mustMiss) {
				t.Errorf("%s %s recording=%t: want %q and not %q", f, c.lang, c.cfg.Recording, c.want, c.mustMiss)
			}
		}
	}
}

// idToken finds inventory ids in an output: element ids start with one of
// the inventory's first segments (so "user.device.ip_address" or
// "android.permission.CAMERA" are not mistaken for ids).
func idTokens(inv *inventory.Inventory, s string) []string {
	var prefixes []string
	for _, e := range inv.Elements {
		p := e.ID[:strings.IndexByte(e.ID, '.')]
		if !slices.Contains(prefixes, p) {
			prefixes = append(prefixes, p)
		}
	}
	re := regexp.MustCompile(`(?:^|[^A-Za-z0-9_.])((?:` + strings.Join(prefixes, "|") + `)\.[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*)`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// expectIDs is what a disclosure must name: the end-user elements on the
// platform whose switch is on, plus operator data in json and fideslang.
func expectIDs(inv *inventory.Inventory, cfg disclosure.AppConfig, platform string, operator bool) []string {
	var out []string
	for _, e := range inv.Elements {
		if e.Purpose == inventory.PurposeOperator {
			if operator {
				out = append(out, e.ID)
			}
			continue
		}
		if e.OnPlatform(platform) && e.Enabled(cfg.Switches) {
			out = append(out, e.ID)
		}
	}
	sort.Strings(out)
	return out
}

// proves COLLECT-1, DISCLOSE-1: no disclosure names anything the inventory
// does not declare, and each names exactly the elements in force: an
// extension or optional field left off (e.g. ext.apm) is absent.
func TestNoUndeclaredDisclosure(t *testing.T) {
	inv := mustInventory(t)
	configs := map[string]disclosure.AppConfig{"golden": goldenConfig(), "none": {SDKAppID: 1}, "all": {SDKAppID: 2, Recording: true, Relay: true, Switches: map[string]bool{}}}
	for _, s := range inv.Switches {
		configs["all"].Switches[s.ID] = true
	}
	for name, cfg := range configs {
		for _, p := range inventory.Platforms() {
			for _, lang := range []string{"en", "zh"} {
				for _, f := range disclosure.Formats() {
					out := string(generate(t, inv, cfg, p, lang, f))
					got := idTokens(inv, out)
					for _, id := range got {
						if _, ok := inv.Element(id); !ok {
							t.Errorf("%s %s %s %s: names undeclared %q", name, p, lang, f, id)
						}
					}
					switch f {
					case disclosure.FormatText, disclosure.FormatMarkdown:
						if want := expectIDs(inv, cfg, p, false); !slices.Equal(got, want) {
							t.Errorf("%s %s %s %s: ids\n got %v\nwant %v", name, p, lang, f, got, want)
						}
					case disclosure.FormatJSON, disclosure.FormatFideslang:
						if want := expectIDs(inv, cfg, p, true); !slices.Equal(got, want) {
							t.Errorf("%s %s %s %s: ids\n got %v\nwant %v", name, p, lang, f, got, want)
						}
					case disclosure.FormatXCPrivacy:
						want := expectIDs(inv, cfg, p, false)
						for _, id := range got {
							if !slices.Contains(want, id) {
								t.Errorf("%s %s %s: xcprivacy names %s, not in force", name, p, f, id)
							}
						}
					}
					if cfg.Switches["ext.apm"] {
						continue
					}
					for _, id := range got {
						if strings.HasPrefix(id, "quality.") || strings.HasPrefix(id, "stream.") || strings.HasPrefix(id, "event.") {
							t.Errorf("%s %s %s %s: ext.apm off but %s disclosed", name, p, lang, f, id)
						}
					}
				}
			}
		}
	}
}

// Permissions are only the platform's, with purpose and timing (PERM-1).
func TestPermissionsPerPlatform(t *testing.T) {
	inv := mustInventory(t)
	cfg := goldenConfig()
	cfg.Switches["field.debug.audio_dump"] = true
	for _, p := range inventory.Platforms() {
		d := parseJSON(t, generate(t, inv, cfg, p, "zh", disclosure.FormatJSON))
		var want []string
		for _, e := range inv.Elements {
			if !e.OnPlatform(p) || !e.Enabled(cfg.Switches) || e.Purpose == inventory.PurposeOperator {
				continue
			}
			for _, perm := range e.Permissions {
				if perm.OS == p && !slices.Contains(want, perm.Name) {
					want = append(want, perm.Name)
				}
			}
		}
		var got []string
		for _, perm := range d.Permissions {
			got = append(got, perm.Name)
			if perm.Purpose == "" || perm.Trigger == "" || len(perm.Elements) == 0 {
				t.Errorf("%s: permission %+v without purpose, trigger or element", p, perm)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: permissions %v, want %v", p, got, want)
		}
		if len(got) == 0 && d.PermissionsNote == "" {
			t.Errorf("%s: no permissions and no note", p)
		}
	}
	d := parseJSON(t, generate(t, inv, cfg, "harmony", "zh", disclosure.FormatJSON))
	if !strings.Contains(d.PermissionsNote, "Harmony SDK 不主动获取权限") {
		t.Errorf("harmony note %q", d.PermissionsNote)
	}
}
