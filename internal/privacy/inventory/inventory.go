// Package inventory is Parley's personal-information inventory (PROMISES
// COLLECT-1; REFERENCE §6.1): one declarative list of every element of
// personal information the SDKs and servers touch, with its switch,
// purpose, processing, storage, retention and store-label mappings.
//
// The list is inventory.yaml, embedded in the binary. docs/inventory.md is
// the contract that fixes the ids, switches, purposes and wire sections;
// tests keep the two in step. The telemetry decoder accepts only declared
// elements (Element, ValidateValue) and the disclosure generator writes only
// from the same value.
package inventory

import (
	"bytes"
	"crypto/sha256"
	_ "embed" // inventory.yaml
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"go.yaml.in/yaml/v3"
)

//go:embed inventory.yaml
var embedded []byte

// Inventory is a parsed, validated inventory. Treat it as read-only: it is
// shared by every session of a server.
type Inventory struct {
	Elements []Element `yaml:"elements" json:"elements"`
	Switches []Switch  `yaml:"switches" json:"switches"`

	// index maps an element id to its position in Elements; nil for an
	// Inventory built by hand, where lookups scan.
	index map[string]int
}

// Element is one personal-information element.
type Element struct {
	ID          string `yaml:"id" json:"id"`
	Label       Text   `yaml:"label" json:"label"`
	PurposeText Text   `yaml:"purpose_text" json:"purpose_text"`
	Scenario    Text   `yaml:"scenario" json:"scenario"`
	// Category groups elements: network, identity, device, media,
	// quality, sensor, feedback, im, signaling, console, key.
	Category string `yaml:"category" json:"category"`
	// Platforms lists the SDK platforms that may collect the element
	// (android, ios, harmony, web, pc, go). Empty for operator data,
	// which no SDK collects.
	Platforms []string `yaml:"platforms" json:"platforms"`
	// Required is true when the element is needed for its function. With
	// a switch it is required once that switch (an extension) is on.
	Required bool `yaml:"required" json:"required"`
	// Switch is the switch that controls the element; "" when none.
	Switch string `yaml:"switch" json:"switch,omitempty"`
	// Purpose is a protocol.Purpose* consent purpose or "operator".
	Purpose string `yaml:"purpose" json:"purpose"`
	// LegalBasis is the PIPL art. 13 basis: consent, contract or
	// legal_obligation.
	LegalBasis string `yaml:"legal_basis" json:"legal_basis"`
	// OnDevice is the processing the SDK applies before anything leaves
	// the device: none, ip_truncate, random_id, local_only (never sent).
	OnDevice string `yaml:"on_device" json:"on_device"`
	// AtRest is the server-side protection of stored values: none,
	// pseudonymise, seal.
	AtRest    string    `yaml:"at_rest" json:"at_rest"`
	Stored    bool      `yaml:"stored" json:"stored"`
	Store     string    `yaml:"store" json:"store"`
	Retention Retention `yaml:"retention" json:"retention"`
	// WhenRecording, for media, is where the element goes and how long it
	// stays when the app turns cloud recording on (COLLECT-3): without
	// recording it is forwarded only.
	WhenRecording *Recording `yaml:"when_recording" json:"when_recording,omitempty"`
	// Region is the storage-region rule: collection_region (stored in the
	// region where it is collected, mainland China by default; STORE-1)
	// or device (never leaves the device).
	Region      string       `yaml:"region" json:"region"`
	Permissions []Permission `yaml:"permissions" json:"permissions,omitempty"`
	// Apple and Play are the app-store label mappings; nil when the
	// element never leaves the device or is not end-user data.
	Apple     *Apple `yaml:"apple" json:"apple,omitempty"`
	Play      *Play  `yaml:"play" json:"play,omitempty"`
	Fides     Fides  `yaml:"fideslang" json:"fideslang"`
	Sensitive bool   `yaml:"sensitive" json:"sensitive"`
	// Wire is the telemetry shape; nil when the element is not telemetry.
	Wire *Wire `yaml:"wire" json:"wire,omitempty"`
	// UsedBy lists consumers other than Go code that names the id; today
	// only "disclosure" (the element is declared and disclosed but no
	// code handles it yet). It says nothing about the data, so Hash
	// ignores it.
	UsedBy []string `yaml:"used_by" json:"-"`
}

// Text is a label in English and Chinese.
type Text struct {
	En string `yaml:"en" json:"en"`
	Zh string `yaml:"zh" json:"zh"`
}

// Lang returns the text in lang ("zh" or "en"); English otherwise.
func (t Text) Lang(lang string) string {
	if lang == "zh" {
		return t.Zh
	}
	return t.En
}

// Retention is how long a stored element is kept.
type Retention struct {
	// TTL is "<n>d", "none", "while_app_exists+7d", "app_configured",
	// "while_logged_in" or "while_board_exists".
	TTL string `yaml:"ttl" json:"ttl"`
	// Default is the TTL ("<n>d") that applies when the app configured
	// none; only with TTL "app_configured".
	Default string `yaml:"default" json:"default,omitempty"`
}

// Recording is an element's storage while cloud recording is on.
type Recording struct {
	Store     string    `yaml:"store" json:"store"`
	Retention Retention `yaml:"retention" json:"retention"`
}

// Permission is an operating-system permission an element needs (PERM-1).
type Permission struct {
	OS      string `yaml:"os" json:"os"`
	Name    string `yaml:"name" json:"name"`
	Purpose Text   `yaml:"purpose" json:"purpose"`
	Trigger Text   `yaml:"trigger" json:"trigger"`
	// Optional permissions are requested only when the function is used;
	// refusing one disables only that function.
	Optional bool `yaml:"optional" json:"optional"`
}

// Apple maps an element to PrivacyInfo.xcprivacy (REFERENCE §6.3).
type Apple struct {
	// Type is an NSPrivacyCollectedDataType… value.
	Type     string `yaml:"type" json:"type"`
	Linked   bool   `yaml:"linked" json:"linked"`
	Tracking bool   `yaml:"tracking" json:"tracking"`
	// Purposes are NSPrivacyCollectedDataTypePurpose… suffixes
	// (AppFunctionality, Analytics, …).
	Purposes []string `yaml:"purposes" json:"purposes"`
}

// Play maps an element to the Google Play Data safety form.
type Play struct {
	Group     string   `yaml:"group" json:"group"` // PSL_DATA_TYPES_…
	Type      string   `yaml:"type" json:"type"`   // PSL_AUDIO, PSL_DEVICE_ID, …
	Ephemeral bool     `yaml:"ephemeral" json:"ephemeral"`
	Purposes  []string `yaml:"purposes" json:"purposes"` // PSL_APP_FUNCTIONALITY, …
}

// Fides maps an element to the fideslang taxonomy (REFERENCE §6.8).
type Fides struct {
	Category string `yaml:"category" json:"category"`
	Use      string `yaml:"use" json:"use"`
	Subject  string `yaml:"subject" json:"subject"`
}

// Wire is an element's telemetry shape (docs/inventory.md "Types").
type Wire struct {
	// Section is the protocol.TelemetryReport section: quality, streams,
	// device or events.
	Section string `yaml:"section" json:"section"`
	// Type is int, float, string, enum or prefix.
	Type string `yaml:"type" json:"type"`
	// Min and Max bound int and float values.
	Min int64 `yaml:"min" json:"min,omitempty"`
	Max int64 `yaml:"max" json:"max,omitempty"`
	// MaxLen bounds a string value in bytes.
	MaxLen int      `yaml:"maxlen" json:"maxlen,omitempty"`
	Enum   []string `yaml:"enum" json:"enum,omitempty"`
}

// Switch is a collection switch an app sets in its SDK init config and the
// SDK sends in join.switches. Absent means off.
type Switch struct {
	ID string `yaml:"id" json:"id"`
	// Kind is init_key (seed 000 init JSON key), extension or field
	// (one optional element, "field.<element id>").
	Kind  string `yaml:"kind" json:"kind"`
	Label Text   `yaml:"label" json:"label"`
	// Default is always false: nothing optional is on unless the app
	// turns it on (COLLECT-5).
	Default bool `yaml:"default" json:"default"`
}

// Default parses the embedded inventory. It parses on every call; callers
// keep the value.
func Default() (*Inventory, error) {
	return Parse(embedded)
}

// Parse decodes and validates an inventory document strictly: unknown or
// duplicate keys, a second document, a missing required key or any broken
// rule (see validate.go) is an error wrapping ErrInvalid, with the line.
func Parse(b []byte) (*Inventory, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty document", ErrInvalid)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: line %d: more than one YAML document", ErrInvalid, extra.Line)
	}
	lines, err := checkKeys(&root)
	if err != nil {
		return nil, err
	}
	// A second, strict pass rejects unknown keys and wrong types with the
	// decoder's own line numbers.
	var inv Inventory
	sdec := yaml.NewDecoder(bytes.NewReader(b))
	sdec.KnownFields(true)
	if err := sdec.Decode(&inv); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := inv.validate(lines); err != nil {
		return nil, err
	}
	inv.index = make(map[string]int, len(inv.Elements))
	for i := range inv.Elements {
		inv.index[inv.Elements[i].ID] = i
	}
	return &inv, nil
}

// Element returns the element with the given id.
func (inv *Inventory) Element(id string) (*Element, bool) {
	if inv.index != nil {
		i, ok := inv.index[id]
		if !ok {
			return nil, false
		}
		return &inv.Elements[i], true
	}
	for i := range inv.Elements {
		if inv.Elements[i].ID == id {
			return &inv.Elements[i], true
		}
	}
	return nil, false
}

// Section returns the elements whose wire section is section, in inventory
// order.
func (inv *Inventory) Section(section string) []*Element {
	var out []*Element
	for i := range inv.Elements {
		if w := inv.Elements[i].Wire; w != nil && w.Section == section {
			out = append(out, &inv.Elements[i])
		}
	}
	return out
}

// SwitchFor returns the id of the switch controlling the element ("" when
// the element has none or is not declared).
func (inv *Inventory) SwitchFor(id string) string {
	if e, ok := inv.Element(id); ok {
		return e.Switch
	}
	return ""
}

// Switch returns the switch with the given id.
func (inv *Inventory) Switch(id string) (*Switch, bool) {
	for i := range inv.Switches {
		if inv.Switches[i].ID == id {
			return &inv.Switches[i], true
		}
	}
	return nil, false
}

// Hash identifies the inventory's content: "sha256:" and the hex SHA-256 of
// its canonical JSON form, so comments and formatting do not change it. A
// disclosure names the hash of the inventory it was generated from.
func (inv *Inventory) Hash() string {
	b, err := json.Marshal(struct {
		Elements []Element `json:"elements"`
		Switches []Switch  `json:"switches"`
	}{inv.Elements, inv.Switches})
	if err != nil {
		// Every field is a string, bool, number or slice of them;
		// Marshal cannot fail. Hash something stable anyway.
		return "sha256:unavailable"
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// OnPlatform reports whether the element may be collected on platform p.
func (e *Element) OnPlatform(p string) bool {
	return slices.Contains(e.Platforms, p)
}

// Enabled reports whether the element's switch is on in switches (switch id
// → on); an element without a switch is always enabled.
func (e *Element) Enabled(switches map[string]bool) bool {
	return e.Switch == "" || switches[e.Switch]
}

// IsUsedBy reports whether UsedBy names consumer.
func (e *Element) IsUsedBy(consumer string) bool {
	return slices.Contains(e.UsedBy, consumer)
}
