package disclosure

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Schema names the JSON disclosure's shape.
const Schema = "parley-disclosure/1"

// Document is the structured CN third-party SDK disclosure (REFERENCE
// §6.3: SDK名称 + package, 第三方主体 + contact, 使用目的, 使用场景, 涉及的个人信息
// 类型 split 必选/可选 with each switch, 申请的系统权限 with purpose and timing,
// 收集方式, 存储地点/期限, 隐私政策链接, SDK version and policy hash). The
// text and markdown formats render exactly this value, in one language.
type Document struct {
	Schema   string `json:"schema"`
	Lang     string `json:"lang"`
	Platform string `json:"platform"`
	Title    string `json:"title"`
	SDK      struct {
		Name     string `json:"name"`
		Platform string `json:"platform"`
		Package  string `json:"package"`
		Version  string `json:"version"`
	} `json:"sdk"`
	Provider struct {
		Name    string `json:"name"`
		Contact string `json:"contact"`
	} `json:"provider"`
	App struct {
		SDKAppID  uint32   `json:"sdkappid"`
		Name      string   `json:"name"`
		Recording bool     `json:"recording"`
		Relay     bool     `json:"relay"`
		Switches  []string `json:"switches"` // the switches the app turned on
	} `json:"app"`
	Purpose         string       `json:"purpose"`
	Scenarios       []string     `json:"scenarios"`
	Required        []Item       `json:"required"`
	Optional        []Item       `json:"optional"`
	Permissions     []Permission `json:"permissions"`
	PermissionsNote string       `json:"permissions_note,omitempty"`
	Processing      []string     `json:"processing"`
	Storage         Storage      `json:"storage"`
	Sharing         string       `json:"sharing"`
	Policy          Policy       `json:"policy"`
	OperatorData    []Item       `json:"operator_data"`
	Generated       string       `json:"generated"`
	labels          map[string]string
}

// Item is one element of personal information in the disclosure.
type Item struct {
	ID          string `json:"id"`
	Label       string `json:"label"`
	Category    string `json:"category"`
	Purpose     string `json:"purpose"`
	PurposeID   string `json:"purpose_id"`
	Scenario    string `json:"scenario"`
	LegalBasis  string `json:"legal_basis"`
	Switch      string `json:"switch,omitempty"`
	SwitchLabel string `json:"switch_label,omitempty"`
	Processing  string `json:"processing,omitempty"`
	Stored      bool   `json:"stored"`
	// Storage is where and how long, in words; Retention is the rule
	// ("14d", "none", "app_configured", …).
	Storage   string `json:"storage"`
	Retention string `json:"retention"`
	Region    string `json:"region"`
	// Recorded is true when the element is stored only because the app
	// turned cloud recording on.
	Recorded  bool `json:"recorded,omitempty"`
	Sensitive bool `json:"sensitive"`
}

// Permission is one system permission with its purpose and timing.
type Permission struct {
	Name     string   `json:"name"`
	Purpose  string   `json:"purpose"`
	Trigger  string   `json:"trigger"`
	Optional bool     `json:"optional"`
	Elements []string `json:"elements"`
}

// Storage is the storage place and the periods.
type Storage struct {
	Place   string   `json:"place"`
	Periods []Period `json:"periods"`
}

// Period lists the elements kept for one period.
type Period struct {
	Period   string   `json:"period"`
	Elements []string `json:"elements"`
}

// Policy names the policy and the versions the disclosure was made from.
type Policy struct {
	URL           string `json:"url"`
	Version       string `json:"version"`
	SDKVersion    string `json:"sdk_version"`
	InventoryHash string `json:"inventory_hash"`
}

func (m *model) item(it item) Item {
	w, e, lang := m.w, it.el, m.opts.Lang
	out := Item{
		ID:         e.ID,
		Label:      e.Label.Lang(lang),
		Category:   e.Category,
		Purpose:    e.PurposeText.Lang(lang),
		PurposeID:  e.Purpose,
		Scenario:   e.Scenario.Lang(lang),
		LegalBasis: w.legalBasis(e.LegalBasis),
		Switch:     e.Switch,
		Stored:     it.stored,
		Retention:  it.retention.TTL,
		Region:     w.region(e.Region),
		Recorded:   it.recorded,
		Sensitive:  e.Sensitive,
	}
	if s, ok := m.inv.Switch(e.Switch); ok {
		out.SwitchLabel = s.Label.Lang(lang)
	}
	var proc []string
	if p := w.onDevice(e.OnDevice); p != "" {
		proc = append(proc, p)
	}
	if p := w.atRest(e.AtRest); p != "" {
		proc = append(proc, p)
	}
	out.Processing = join(proc, w.sentenceSep)
	switch {
	case it.recorded:
		out.Storage = w.recordingPrefix + w.store(it.store) + w.sentenceSep + w.retention(it.retention)
	case it.stored:
		out.Storage = w.store(it.store) + w.sentenceSep + w.retention(it.retention)
	case e.WhenRecording != nil:
		out.Storage = w.forwardedOnly
	default:
		out.Storage = w.retention(it.retention)
	}
	return out
}

func join(parts []string, sep string) string {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(p)
	}
	return b.String()
}

// document resolves the model into the disclosure in one language.
func (m *model) document() *Document {
	w, cfg := m.w, m.cfg
	d := &Document{Schema: Schema, Lang: m.opts.Lang, Platform: m.opts.Platform, Title: w.title, labels: map[string]string{}}
	d.SDK.Name = w.sdkName
	d.SDK.Platform = w.platformName(m.opts.Platform)
	d.SDK.Package = sdkPackage(m.opts.Platform)
	d.SDK.Version = m.sdkVersion()
	d.Provider.Name, d.Provider.Contact = cfg.Provider, cfg.Contact
	if d.Provider.Name == "" {
		d.Provider.Name = w.providerDefault
	}
	if d.Provider.Contact == "" {
		d.Provider.Contact = w.contactDefault
	}
	d.App.SDKAppID, d.App.Name = cfg.SDKAppID, cfg.AppName
	d.App.Recording, d.App.Relay = cfg.Recording, cfg.Relay
	d.App.Switches = m.onSwitches()
	if d.App.Switches == nil {
		d.App.Switches = []string{}
	}

	var purposes []string
	media, sensitive := false, false
	for _, it := range m.endUser {
		x := m.item(it)
		d.labels[x.ID] = x.Label
		if it.el.Required {
			d.Required = append(d.Required, x)
		} else {
			d.Optional = append(d.Optional, x)
		}
		if p := w.purposeName(it.el.Purpose); !slices.Contains(purposes, p) {
			purposes = append(purposes, p)
		}
		if !slices.Contains(d.Scenarios, x.Scenario) {
			d.Scenarios = append(d.Scenarios, x.Scenario)
		}
		media = media || it.el.WhenRecording != nil
		sensitive = sensitive || it.el.Sensitive
	}
	d.Purpose = join(purposes, w.listSep)
	d.Permissions = m.permissions()
	if len(d.Permissions) == 0 {
		switch m.opts.Platform {
		case "harmony":
			d.PermissionsNote = w.harmonyPerms
		case "go":
			d.PermissionsNote = w.goPerms
		default:
			d.PermissionsNote = w.none
		}
	}

	d.Processing = []string{w.consentFirst, w.transit, w.trigger}
	for _, v := range []string{"ip_truncate", "random_id", "local_only"} {
		for _, it := range m.endUser {
			if it.el.OnDevice == v {
				d.Processing = append(d.Processing, it.el.Label.Lang(m.opts.Lang)+w.kColon()+w.onDevice(v))
				break
			}
		}
	}
	if media {
		if cfg.Recording {
			d.Processing = append(d.Processing, w.mediaRecorded)
		} else {
			d.Processing = append(d.Processing, w.mediaForward)
		}
		if cfg.Relay {
			d.Processing = append(d.Processing, w.relay)
		}
	}
	if !sensitive {
		d.Processing = append(d.Processing, w.noSensitive)
	}
	d.Processing = append(d.Processing, w.withdraw)

	d.Storage.Place = w.region("collection_region")
	for _, x := range append(slices.Clone(d.Required), d.Optional...) {
		i := slices.IndexFunc(d.Storage.Periods, func(p Period) bool { return p.Period == x.Storage })
		if i < 0 {
			d.Storage.Periods = append(d.Storage.Periods, Period{Period: x.Storage})
			i = len(d.Storage.Periods) - 1
		}
		d.Storage.Periods[i].Elements = append(d.Storage.Periods[i].Elements, x.ID)
	}
	d.Sharing = w.sharing
	d.Policy = Policy{URL: cfg.PolicyURL, Version: cfg.PolicyVersion, SDKVersion: m.sdkVersion(), InventoryHash: m.inv.Hash()}
	for _, it := range m.operator {
		d.OperatorData = append(d.OperatorData, m.item(it))
	}
	d.Generated = w.kGenerated
	if d.Required == nil {
		d.Required = []Item{}
	}
	if d.Optional == nil {
		d.Optional = []Item{}
	}
	if d.Permissions == nil {
		d.Permissions = []Permission{}
	}
	if d.OperatorData == nil {
		d.OperatorData = []Item{}
	}
	if d.Storage.Periods == nil {
		d.Storage.Periods = []Period{}
	}
	if d.Scenarios == nil {
		d.Scenarios = []string{}
	}
	return d
}

func (w words) kColon() string {
	if w.lang == "zh" {
		return "："
	}
	return ": "
}

// permissions merges the permissions of the elements in force on the
// platform (PERM-1): one entry per permission name, with every distinct
// purpose and trigger, optional only if optional for every element.
func (m *model) permissions() []Permission {
	var out []Permission
	lang := m.opts.Lang
	for _, it := range m.endUser {
		for _, p := range it.el.Permissions {
			if p.OS != m.opts.Platform {
				continue
			}
			i := slices.IndexFunc(out, func(x Permission) bool { return x.Name == p.Name })
			if i < 0 {
				out = append(out, Permission{Name: p.Name, Optional: true})
				i = len(out) - 1
			}
			x := &out[i]
			x.Purpose = appendDistinct(x.Purpose, p.Purpose.Lang(lang), m.w.sentenceSep)
			x.Trigger = appendDistinct(x.Trigger, p.Trigger.Lang(lang), m.w.sentenceSep)
			x.Optional = x.Optional && p.Optional
			if !slices.Contains(x.Elements, it.el.ID) {
				x.Elements = append(x.Elements, it.el.ID)
			}
		}
	}
	return out
}

// appendDistinct appends s to the sep-separated list unless present.
func appendDistinct(list, s, sep string) string {
	if list == "" {
		return s
	}
	for _, part := range bytes.Split([]byte(list), []byte(sep)) {
		if string(part) == s {
			return list
		}
	}
	return list + sep + s
}

func renderJSON(d *Document) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("disclosure: encode json: %w", err)
	}
	return b.Bytes(), nil
}
