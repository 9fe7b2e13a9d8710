package inventory

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/parley-rtc/parley/protocol"
)

// PurposeOperator marks operator (developer) data: console configuration,
// key material, operation logs (seed 002). No SDK collects it and no end-user
// consent covers it; the legal basis is the contract (PIPL art. 13 (2)).
const PurposeOperator = "operator"

// UsedByDisclosure is the UsedBy value of elements that only the disclosure
// generator handles so far.
const UsedByDisclosure = "disclosure"

// Platforms are the SDK platforms, as sent in join.platform.
func Platforms() []string { return []string{"android", "ios", "harmony", "web", "pc", "go"} }

// Purposes are the consent purposes (protocol.Purpose*) and PurposeOperator.
func Purposes() []string {
	return []string{protocol.PurposeRTC, protocol.PurposeQuality, protocol.PurposeSignaling,
		protocol.PurposeIM, protocol.PurposeFeedback, PurposeOperator}
}

// Wire types (docs/inventory.md "Types").
const (
	TypeInt    = "int"
	TypeFloat  = "float"
	TypeString = "string"
	TypeEnum   = "enum"
	TypePrefix = "prefix"
)

// Retention TTL keywords besides "<n>d".
const (
	TTLNone             = "none"
	TTLWhileAppExists   = "while_app_exists+7d" // RETAIN-2: deleted ≤ 7 d after termination
	TTLAppConfigured    = "app_configured"      // RETAIN-3: the app's configured retention
	TTLWhileLoggedIn    = "while_logged_in"
	TTLWhileBoardExists = "while_board_exists"
)

// Switch kinds.
const (
	KindInitKey   = "init_key"
	KindExtension = "extension"
	KindField     = "field"
)

// FieldSwitchPrefix starts every optional-field switch id: "field." + the
// element id (COLLECT-5).
const FieldSwitchPrefix = "field."

// idPattern is an element id: dotted lower-case words, e.g.
// "quality.rtt_ms" (a stable key = the wire-schema field name).
var idPattern = regexp.MustCompile(`^[a-z]+(\.[a-z][a-z0-9_]*)+$`)

// ttlDays matches "<n>d" with 1 ≤ n ≤ 3650.
var ttlDays = regexp.MustCompile(`^[1-9][0-9]{0,3}d$`)

func oneOf(v string, set ...string) bool { return slices.Contains(set, v) }

func categories() []string {
	return []string{"network", "identity", "device", "media", "quality", "sensor",
		"feedback", "im", "signaling", "console", "key"}
}

func stores() []string {
	return []string{"none", "quality_logs", "consent_ledger", "troubleshooting", "messages",
		"im_sessions", "whiteboards", "recordings", "app_console", "keystore"}
}

// appleTypes are the NSPrivacyCollectedDataType values (REFERENCE §6.3;
// "PhotosorVideos" is Apple's spelling).
func appleTypes() []string {
	out := []string{}
	for _, t := range []string{"Name", "EmailAddress", "PhoneNumber", "UserID", "DeviceID",
		"AudioData", "PhotosorVideos", "EmailsOrTextMessages", "OtherUserContent", "CustomerSupport",
		"CoarseLocation", "ProductInteraction", "CrashData", "PerformanceData",
		"OtherDiagnosticData", "OtherDataTypes"} {
		out = append(out, "NSPrivacyCollectedDataType"+t)
	}
	return out
}

// ApplePurposes are the NSPrivacyCollectedDataTypePurpose suffixes.
func ApplePurposes() []string {
	return []string{"AppFunctionality", "Analytics", "ProductPersonalization",
		"DeveloperAdvertising", "ThirdPartyAdvertising", "Other"}
}

// PlayDataTypes maps each Play Data safety data-type response id to its
// question (group) id, as in the Play Console CSV export.
func PlayDataTypes() map[string]string {
	m := map[string]string{}
	add := func(group string, types ...string) {
		for _, t := range types {
			m[t] = group
		}
	}
	add("PSL_DATA_TYPES_PERSONAL", "PSL_NAME", "PSL_EMAIL", "PSL_USER_ACCOUNT", "PSL_ADDRESS",
		"PSL_PHONE", "PSL_RACE_ETHNICITY", "PSL_POLITICAL_RELIGIOUS",
		"PSL_SEXUAL_ORIENTATION_GENDER_IDENTITY", "PSL_OTHER_PERSONAL")
	add("PSL_DATA_TYPES_FINANCIAL", "PSL_CREDIT_DEBIT_BANK_ACCOUNT_NUMBER", "PSL_PURCHASE_HISTORY",
		"PSL_CREDIT_SCORE", "PSL_OTHER")
	add("PSL_DATA_TYPES_LOCATION", "PSL_APPROX_LOCATION", "PSL_PRECISE_LOCATION")
	add("PSL_DATA_TYPES_SEARCH_AND_BROWSING", "PSL_WEB_BROWSING_HISTORY")
	add("PSL_DATA_TYPES_EMAIL_AND_TEXT", "PSL_EMAILS", "PSL_SMS_CALL_LOG", "PSL_OTHER_MESSAGES")
	add("PSL_DATA_TYPES_PHOTOS_AND_VIDEOS", "PSL_PHOTOS", "PSL_VIDEOS")
	add("PSL_DATA_TYPES_AUDIO", "PSL_AUDIO", "PSL_MUSIC", "PSL_OTHER_AUDIO")
	add("PSL_DATA_TYPES_HEALTH_AND_FITNESS", "PSL_HEALTH", "PSL_FITNESS")
	add("PSL_DATA_TYPES_CONTACTS", "PSL_CONTACTS")
	add("PSL_DATA_TYPES_CALENDAR", "PSL_CALENDAR")
	add("PSL_DATA_TYPES_APP_PERFORMANCE", "PSL_CRASH_LOGS", "PSL_PERFORMANCE_DIAGNOSTICS", "PSL_OTHER_PERFORMANCE")
	add("PSL_DATA_TYPES_FILES_AND_DOCS", "PSL_FILES_AND_DOCS")
	add("PSL_DATA_TYPES_APP_ACTIVITY", "PSL_USER_INTERACTION", "PSL_IN_APP_SEARCH_HISTORY",
		"PSL_APPS_ON_DEVICE", "PSL_USER_GENERATED_CONTENT", "PSL_OTHER_APP_ACTIVITY")
	add("PSL_DATA_TYPES_IDENTIFIERS", "PSL_DEVICE_ID")
	return m
}

// PlayPurposes are the Play collection-purpose response ids.
func PlayPurposes() []string {
	return []string{"PSL_APP_FUNCTIONALITY", "PSL_ANALYTICS", "PSL_DEVELOPER_COMMUNICATIONS",
		"PSL_FRAUD_PREVENTION_SECURITY", "PSL_ADVERTISING", "PSL_PERSONALIZATION", "PSL_ACCOUNT_MANAGEMENT"}
}

// fidesCategories, fidesUses and fidesSubjects are the fideslang 3.0
// default-taxonomy keys Parley may use (REFERENCE §6.8;
// IABTechLab/fideslang src/fideslang/default_taxonomy).
func fidesCategories() []string {
	return []string{"user", "user.account", "user.behavior", "user.biometric.voice", "user.childrens",
		"user.contact.phone_number", "user.content", "user.content.private", "user.content.public",
		"user.device", "user.device.device_id", "user.device.ip_address", "user.location.imprecise",
		"user.sensor", "user.social", "user.telemetry", "user.unique_id", "user.unique_id.pseudonymous",
		"system.authentication", "system.operations"}
}

func fidesUses() []string {
	return []string{"essential.service", "essential.service.security", "essential.service.operations",
		"essential.service.operations.support", "essential.legal_obligation",
		"analytics.reporting.system.performance", "third_party_sharing"}
}

func fidesSubjects() []string { return []string{"customer", "anonymous_user", "employee"} }

// keyLines records the line of each element and switch mapping, for errors.
type keyLines struct {
	elements, switches []int
}

// requiredElementKeys must appear in every element: a missing bool would
// otherwise silently read as false ("required", "stored", "sensitive").
func requiredElementKeys() []string {
	return []string{"id", "label", "category", "platforms", "required", "purpose", "purpose_text",
		"scenario", "legal_basis", "on_device", "at_rest", "stored", "store", "retention", "region",
		"fideslang", "sensitive"}
}

// checkKeys checks the document's shape and that every element and switch
// carries its required keys, and returns the lines of both lists.
func checkKeys(doc *yaml.Node) (keyLines, error) {
	var kl keyLines
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return kl, fmt.Errorf("%w: line %d: the top level must be a mapping with switches and elements", ErrInvalid, root.Line)
	}
	top := mappingKeys(root)
	for _, k := range []string{"switches", "elements"} {
		n, ok := top[k]
		if !ok {
			return kl, fmt.Errorf("%w: line %d: missing key %q", ErrInvalid, root.Line, k)
		}
		n = deref(n)
		if n.Kind != yaml.SequenceNode {
			return kl, fmt.Errorf("%w: line %d: %s must be a list", ErrInvalid, n.Line, k)
		}
		for _, item := range n.Content {
			item = deref(item)
			if item.Kind != yaml.MappingNode {
				return kl, fmt.Errorf("%w: line %d: each of %s must be a mapping", ErrInvalid, item.Line, k)
			}
			keys := mappingKeys(item)
			want := []string{"id", "kind", "label"}
			if k == "elements" {
				want = requiredElementKeys()
				kl.elements = append(kl.elements, item.Line)
			} else {
				kl.switches = append(kl.switches, item.Line)
			}
			for _, w := range want {
				if _, ok := keys[w]; !ok {
					return kl, fmt.Errorf("%w: line %d: %s entry without %q", ErrInvalid, item.Line, strings.TrimSuffix(k, "es"), w)
				}
			}
		}
	}
	return kl, nil
}

// deref follows an alias node (bounded: yaml.v3 rejects alias cycles).
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// mappingKeys returns a mapping's keys with their values, following one
// level of merge keys ("<<").
func mappingKeys(m *yaml.Node) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Value == "<<" {
			if v = deref(v); v.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(v.Content); j += 2 {
					if _, ok := out[v.Content[j].Value]; !ok {
						out[v.Content[j].Value] = v.Content[j+1]
					}
				}
			}
			continue
		}
		out[k.Value] = v
	}
	return out
}

// validate applies every rule; all violations are reported, joined.
func (inv *Inventory) validate(kl keyLines) error {
	var errs []error
	at := func(lines []int, i int) string {
		if i < len(lines) {
			return "line " + strconv.Itoa(lines[i]) + ": "
		}
		return ""
	}
	if len(inv.Elements) == 0 {
		errs = append(errs, fmt.Errorf("%w: no elements", ErrInvalid))
	}
	if len(inv.Switches) > protocol.MaxSwitches {
		errs = append(errs, fmt.Errorf("%w: %d switches; join.switches carries at most %d", ErrInvalid, len(inv.Switches), protocol.MaxSwitches))
	}
	switches := map[string]*Switch{}
	for i := range inv.Switches {
		s := &inv.Switches[i]
		fail := func(format string, a ...any) {
			errs = append(errs, fmt.Errorf("%w: %sswitch %q: %s", ErrInvalid, at(kl.switches, i), s.ID, fmt.Sprintf(format, a...)))
		}
		switch {
		case s.ID == "" || len(s.ID) > 64:
			fail("id must be 1-64 bytes")
		case switches[s.ID] != nil:
			fail("duplicate id")
		}
		switches[s.ID] = s
		if !oneOf(s.Kind, KindInitKey, KindExtension, KindField) {
			fail("kind %q is not init_key, extension or field", s.Kind)
		}
		if s.Default {
			fail("default must be false: nothing optional is on unless the app turns it on (COLLECT-5)")
		}
		if err := checkText(s.Label); err != nil {
			fail("label: %v", err)
		}
	}
	ids := map[string]bool{}
	used := map[string]bool{}
	for i := range inv.Elements {
		e := &inv.Elements[i]
		pos := at(kl.elements, i)
		for _, msg := range e.problems(switches) {
			errs = append(errs, fmt.Errorf("%w: %selement %q: %s", ErrInvalid, pos, e.ID, msg))
		}
		if ids[e.ID] {
			errs = append(errs, fmt.Errorf("%w: %selement %q: duplicate id", ErrInvalid, pos, e.ID))
		}
		ids[e.ID] = true
		if e.Switch != "" {
			used[e.Switch] = true
		}
	}
	for i := range inv.Switches {
		s := &inv.Switches[i]
		if !used[s.ID] {
			errs = append(errs, fmt.Errorf("%w: %sswitch %q: no element uses it", ErrInvalid, at(kl.switches, i), s.ID))
		}
		if s.Kind == KindField && !ids[strings.TrimPrefix(s.ID, FieldSwitchPrefix)] {
			errs = append(errs, fmt.Errorf("%w: %sswitch %q: a field switch must be %q + an element id", ErrInvalid, at(kl.switches, i), s.ID, FieldSwitchPrefix))
		}
	}
	return errors.Join(errs...)
}

func checkText(t Text) error {
	switch {
	case strings.TrimSpace(t.En) == "":
		return errors.New("en is empty")
	case strings.TrimSpace(t.Zh) == "":
		return errors.New("zh is empty")
	}
	return nil
}

// problems lists what is wrong with one element.
func (e *Element) problems(switches map[string]*Switch) []string {
	var p []string
	bad := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if len(e.ID) > 64 || !idPattern.MatchString(e.ID) {
		bad("id must match %s (at most 64 bytes)", idPattern)
	}
	for name, t := range map[string]Text{"label": e.Label, "purpose_text": e.PurposeText, "scenario": e.Scenario} {
		if err := checkText(t); err != nil {
			bad("%s: %v", name, err)
		}
	}
	if !oneOf(e.Category, categories()...) {
		bad("category %q is not one of %s", e.Category, strings.Join(categories(), ", "))
	}
	if !oneOf(e.Purpose, Purposes()...) {
		bad("purpose %q is not one of %s", e.Purpose, strings.Join(Purposes(), ", "))
	}
	operator := e.Purpose == PurposeOperator
	seen := map[string]bool{}
	for _, pl := range e.Platforms {
		if !oneOf(pl, Platforms()...) {
			bad("platform %q is not one of %s", pl, strings.Join(Platforms(), ", "))
		}
		if seen[pl] {
			bad("platform %q listed twice", pl)
		}
		seen[pl] = true
	}
	switch {
	case operator && len(e.Platforms) > 0:
		bad("operator data is collected by no SDK platform; platforms must be empty")
	case !operator && len(e.Platforms) == 0:
		bad("platforms: at least one")
	}
	p = append(p, e.switchProblems(switches)...)
	if !oneOf(e.LegalBasis, "consent", "contract", "legal_obligation") {
		bad("legal_basis %q is not consent, contract or legal_obligation (PIPL art. 13)", e.LegalBasis)
	}
	p = append(p, e.storageProblems()...)
	p = append(p, e.labelProblems()...)
	for _, u := range e.UsedBy {
		if u != UsedByDisclosure {
			bad("used_by %q is not %q", u, UsedByDisclosure)
		}
	}
	if e.Wire != nil {
		if operator {
			bad("operator data is not telemetry")
		}
		for _, msg := range e.Wire.problems() {
			bad("wire: %s", msg)
		}
	}
	return p
}

func (e *Element) switchProblems(switches map[string]*Switch) []string {
	var p []string
	bad := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if e.Switch == "" {
		if !e.Required {
			bad("an optional element needs a switch (COLLECT-5)")
		}
		return p
	}
	s, ok := switches[e.Switch]
	if !ok {
		bad("switch %q is not declared", e.Switch)
		return p
	}
	if e.Purpose == PurposeOperator {
		bad("operator data has no end-user switch")
	}
	if s.Kind == KindField {
		if e.Required {
			bad("a field switch controls an optional element; required must be false")
		}
		if s.ID != FieldSwitchPrefix+e.ID {
			bad("its field switch must be %q", FieldSwitchPrefix+e.ID)
		}
	} else if !e.Required && s.Kind != KindInitKey {
		bad("an optional element is controlled by its own field switch or an init key, not %s %q", s.Kind, s.ID)
	}
	return p
}

func (e *Element) storageProblems() []string {
	var p []string
	bad := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if !oneOf(e.OnDevice, "none", "ip_truncate", "random_id", "local_only") {
		bad("on_device %q is not none, ip_truncate, random_id or local_only", e.OnDevice)
	}
	if !oneOf(e.AtRest, "none", "pseudonymise", "seal") {
		bad("at_rest %q is not none, pseudonymise or seal", e.AtRest)
	}
	if !oneOf(e.Store, stores()...) {
		bad("store %q is not one of %s", e.Store, strings.Join(stores(), ", "))
	}
	if !oneOf(e.Region, "collection_region", "device") {
		bad("region %q is not collection_region or device", e.Region)
	}
	if msg := e.Retention.problem(); msg != "" {
		bad("retention: %s", msg)
	}
	if e.Stored {
		if e.Store == "none" || e.Retention.TTL == TTLNone {
			bad("a stored element needs a store and a retention other than none")
		}
		if e.WhenRecording != nil {
			bad("when_recording is only for elements that are not stored otherwise")
		}
	} else {
		if e.Store != "none" || e.Retention.TTL != TTLNone {
			bad("an element that is not stored has store none and retention none")
		}
		if e.AtRest != "none" {
			bad("at_rest applies to stored elements only")
		}
	}
	if e.OnDevice == "local_only" {
		if e.Stored || e.WhenRecording != nil || e.Wire != nil || e.Apple != nil || e.Play != nil {
			bad("a local_only element never leaves the device: not stored, no wire, no Apple or Play label")
		}
		if e.Region != "device" {
			bad("a local_only element has region device")
		}
	} else if e.Region == "device" {
		bad("region device is only for local_only elements")
	}
	if r := e.WhenRecording; r != nil {
		if e.Category != "media" {
			bad("when_recording is only for media")
		}
		if r.Store == "none" || !oneOf(r.Store, stores()...) {
			bad("when_recording.store %q must be a store other than none", r.Store)
		}
		if msg := r.Retention.problem(); msg != "" || r.Retention.TTL == TTLNone {
			bad("when_recording.retention: must be a retention other than none %s", msg)
		}
	}
	for i, perm := range e.Permissions {
		if !oneOf(perm.OS, Platforms()...) || !e.OnPlatform(perm.OS) {
			bad("permissions[%d]: os %q is not one of the element's platforms", i, perm.OS)
		}
		if strings.TrimSpace(perm.Name) == "" {
			bad("permissions[%d]: empty name", i)
		}
		if err := checkText(perm.Purpose); err != nil {
			bad("permissions[%d].purpose: %v", i, err)
		}
		if err := checkText(perm.Trigger); err != nil {
			bad("permissions[%d].trigger: %v", i, err)
		}
		for j := range i {
			if e.Permissions[j].OS == perm.OS && e.Permissions[j].Name == perm.Name {
				bad("permissions[%d]: %s %s listed twice", i, perm.OS, perm.Name)
			}
		}
	}
	return p
}

func (r Retention) problem() string {
	switch {
	case ttlDays.MatchString(r.TTL), oneOf(r.TTL, TTLNone, TTLWhileAppExists, TTLWhileLoggedIn, TTLWhileBoardExists):
		if r.Default != "" {
			return "default is only for ttl app_configured"
		}
	case r.TTL == TTLAppConfigured:
		if r.Default != "" && !ttlDays.MatchString(r.Default) {
			return fmt.Sprintf("default %q is not <n>d", r.Default)
		}
	default:
		return fmt.Sprintf("ttl %q is not <n>d, none, %s, %s, %s or %s", r.TTL,
			TTLWhileAppExists, TTLAppConfigured, TTLWhileLoggedIn, TTLWhileBoardExists)
	}
	return ""
}

// labelProblems checks the Apple, Play and fideslang mappings.
func (e *Element) labelProblems() []string {
	var p []string
	bad := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if e.Purpose == PurposeOperator && (e.Apple != nil || e.Play != nil) {
		bad("operator data has no app-store label")
	}
	if a := e.Apple; a != nil {
		if !oneOf(a.Type, appleTypes()...) {
			bad("apple.type %q is not an NSPrivacyCollectedDataType (REFERENCE §6.3)", a.Type)
		}
		if a.Tracking {
			bad("apple.tracking must be false: Parley never tracks (NSPrivacyTracking false)")
		}
		p = append(p, listProblems("apple.purposes", a.Purposes, ApplePurposes())...)
	}
	if pl := e.Play; pl != nil {
		if g, ok := PlayDataTypes()[pl.Type]; !ok || g != pl.Group {
			bad("play: %s / %s is not a Play Data safety group and data type", pl.Group, pl.Type)
		}
		collected := e.Stored
		if pl.Ephemeral == collected {
			bad("play.ephemeral must be %t: an element is processed ephemerally exactly when it is not stored", !collected)
		}
		p = append(p, listProblems("play.purposes", pl.Purposes, PlayPurposes())...)
	}
	if !oneOf(e.Fides.Category, fidesCategories()...) {
		bad("fideslang.category %q is not a known fideslang data category", e.Fides.Category)
	}
	if !oneOf(e.Fides.Use, fidesUses()...) {
		bad("fideslang.use %q is not a known fideslang data use", e.Fides.Use)
	}
	if !oneOf(e.Fides.Subject, fidesSubjects()...) {
		bad("fideslang.subject %q is not a known fideslang data subject", e.Fides.Subject)
	}
	return p
}

func listProblems(name string, got, allowed []string) []string {
	var p []string
	if len(got) == 0 {
		p = append(p, name+": at least one")
	}
	for i, v := range got {
		if !oneOf(v, allowed...) {
			p = append(p, fmt.Sprintf("%s: %q is not one of %s", name, v, strings.Join(allowed, ", ")))
		}
		if slices.Contains(got[:i], v) {
			p = append(p, fmt.Sprintf("%s: %q listed twice", name, v))
		}
	}
	return p
}

// maxEnum and maxEnumValue bound an enum so the decoder's work per value
// stays small.
const (
	maxEnum      = 64
	maxEnumValue = 64
)

func (w *Wire) problems() []string {
	var p []string
	bad := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if !oneOf(w.Section, protocol.SectionQuality, protocol.SectionStreams, protocol.SectionDevice, protocol.SectionEvents) {
		bad("section %q is not quality, streams, device or events", w.Section)
	}
	noBounds := w.Min == 0 && w.Max == 0
	switch w.Type {
	case TypeInt, TypeFloat:
		if w.Min > w.Max {
			bad("min %d > max %d", w.Min, w.Max)
		}
		if w.MaxLen != 0 || len(w.Enum) > 0 {
			bad("%s takes min and max only", w.Type)
		}
	case TypeString:
		if w.MaxLen <= 0 || w.MaxLen > 4096 {
			bad("string needs maxlen 1-4096")
		}
		if !noBounds || len(w.Enum) > 0 {
			bad("string takes maxlen only")
		}
	case TypeEnum:
		if len(w.Enum) == 0 || len(w.Enum) > maxEnum {
			bad("enum needs 1-%d values", maxEnum)
		}
		for i, v := range w.Enum {
			if v == "" || len(v) > maxEnumValue {
				bad("enum value %d must be 1-%d bytes", i, maxEnumValue)
			}
			if slices.Contains(w.Enum[:i], v) {
				bad("enum value %q listed twice", v)
			}
		}
		if !noBounds || w.MaxLen != 0 {
			bad("enum takes values only")
		}
	case TypePrefix:
		if !noBounds || w.MaxLen != 0 || len(w.Enum) > 0 {
			bad("prefix takes no bounds")
		}
	default:
		bad("type %q is not int, float, string, enum or prefix", w.Type)
	}
	return p
}
