package disclosure

import (
	"fmt"
	"strings"
)

// renderText writes the human disclosure, plain or as markdown. Both carry
// every element's id next to its label, so the text can be checked against
// the inventory and matched with the SDK's switch names.
func renderText(d *Document, markdown bool) []byte {
	w := wordsFor(d.Lang)
	var b strings.Builder
	if markdown {
		writeMarkdown(&b, d, w)
	} else {
		writePlain(&b, d, w)
	}
	return []byte(b.String())
}

func (d *Document) sdkTitle() string {
	return d.SDK.Name + wordsFor(d.Lang).paren(d.SDK.Platform)
}

// paren puts s in parentheses after a word: full-width in Chinese.
func (w words) paren(s string) string {
	if w.lang == "zh" {
		return "（" + s + "）"
	}
	return " (" + s + ")"
}

func (d *Document) appTitle() string {
	name := d.App.Name
	if name == "" {
		name = "-"
	}
	if d.Lang == "zh" {
		return fmt.Sprintf("%s（SDKAppID %d）", name, d.App.SDKAppID)
	}
	return fmt.Sprintf("%s (SDKAppID %d)", name, d.App.SDKAppID)
}

func orNone(s string, w words) string {
	if s == "" {
		return w.notProvided
	}
	return s
}

// header lists the "key: value" lines at the top (seed 000 example).
func (d *Document) header(w words) [][2]string {
	return [][2]string{
		{w.kSDK, d.sdkTitle()},
		{w.kPackage, d.SDK.Package},
		{w.kVersion, d.SDK.Version},
		{w.kProvider, d.Provider.Name},
		{w.kContact, d.Provider.Contact},
		{w.kApp, d.appTitle()},
		{w.kPurpose, d.Purpose},
		{w.kScenarios, strings.Join(d.Scenarios, w.sentenceSep)},
		{w.kPI, d.piSummary(w)},
		{w.kPermissions, d.permSummary(w)},
	}
}

// piSummary is the one-line list of PI types (seed 000: "处理的个人信息类型：
// 终端 IP 地址、视频、录音"), required then optional with their switches.
func (d *Document) piSummary(w words) string {
	var req, opt []string
	for _, x := range d.Required {
		req = append(req, x.Label)
	}
	for _, x := range d.Optional {
		opt = append(opt, x.Label+w.paren(x.Switch))
	}
	if len(req) == 0 {
		req = []string{w.none}
	}
	if len(opt) == 0 {
		opt = []string{w.none}
	}
	return w.kRequiredShort + w.kColon() + strings.Join(req, w.listSep) + w.sentenceSep +
		w.kOptionalShort + w.kColon() + strings.Join(opt, w.listSep)
}

// permSummary is the one-line list of permissions (seed 000: "实现 SDK 产品功能
// 所需的权限：相机、录音权限").
func (d *Document) permSummary(w words) string {
	if len(d.Permissions) == 0 {
		return d.PermissionsNote
	}
	names := make([]string, 0, len(d.Permissions))
	for _, p := range d.Permissions {
		names = append(names, p.Name)
	}
	return strings.Join(names, w.listSep)
}

func (d *Document) policyLines(w words) [][2]string {
	return [][2]string{
		{w.kPolicyURL, orNone(d.Policy.URL, w)},
		{w.kPolicyVersion, orNone(d.Policy.Version, w)},
		{w.kVersion, d.Policy.SDKVersion},
		{w.kInventory, d.Policy.InventoryHash},
	}
}

// periodLine is one storage period with the labels and ids it covers.
func (d *Document) periodLine(p Period, w words, code func(string) string) string {
	names := make([]string, 0, len(p.Elements))
	for _, id := range p.Elements {
		names = append(names, d.labels[id]+w.paren(code(id)))
	}
	return p.Period + w.kColon() + strings.Join(names, w.listSep)
}

func (d *Document) permTitle(p Permission, w words) string {
	opt := w.permRequired
	if p.Optional {
		opt = w.permOptional
	}
	return p.Name + w.paren(opt)
}

func writePlain(b *strings.Builder, d *Document, w words) {
	c := w.kColon()
	line := func(indent int, k, v string) {
		b.WriteString(strings.Repeat("  ", indent))
		if k != "" && v == "" {
			b.WriteString(k + strings.TrimSpace(c) + "\n")
			return
		}
		if k != "" {
			b.WriteString(k + c)
		}
		b.WriteString(strings.TrimRight(v, " ") + "\n")
	}
	heading := func(h string) { b.WriteString("\n" + h + strings.TrimSpace(c) + "\n") }
	b.WriteString(d.Title + "\n\n")
	for _, kv := range d.header(w) {
		line(0, kv[0], kv[1])
	}
	heading(w.kPIDetail)
	items := func(title string, list []Item) {
		line(0, "", title+strings.TrimSpace(c))
		if len(list) == 0 {
			line(1, "", w.none)
		}
		for i, x := range list {
			line(1, "", fmt.Sprintf("%d. %s [%s]", i+1, x.Label, x.ID))
			if x.Switch != "" {
				line(2, w.kSwitch, x.Switch+w.paren(x.SwitchLabel))
			}
			line(2, w.kItemPurpose, x.Purpose)
			line(2, w.kItemScenario, x.Scenario)
			if x.Processing != "" {
				line(2, w.kItemProcessing, x.Processing)
			}
			line(2, w.kItemStorage, x.Storage)
			line(2, w.kItemLegal, x.LegalBasis)
		}
	}
	items(w.kRequired, d.Required)
	items(w.kOptional, d.Optional)

	heading(w.kPermDetail)
	if d.PermissionsNote != "" {
		line(1, "", d.PermissionsNote)
	}
	for _, p := range d.Permissions {
		line(1, "", "- "+d.permTitle(p, w))
		line(2, w.kPermPurpose, p.Purpose)
		line(2, w.kPermTrigger, p.Trigger)
	}

	heading(w.kProcessing)
	for _, p := range d.Processing {
		line(1, "", "- "+p)
	}

	heading(w.kStorage)
	line(1, w.kPlace, d.Storage.Place)
	line(1, w.kPeriod, "")
	for _, p := range d.Storage.Periods {
		line(2, "", "- "+d.periodLine(p, w, func(id string) string { return id }))
	}

	heading(w.kSharing)
	line(1, "", d.Sharing)

	heading(w.kPolicy)
	for _, kv := range d.policyLines(w) {
		line(1, kv[0], kv[1])
	}
	b.WriteString("\n" + d.Generated + "\n")
}

// mdCell escapes a markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func code(s string) string { return "`" + s + "`" }

func writeMarkdown(b *strings.Builder, d *Document, w words) {
	c := w.kColon()
	row := func(cells ...string) {
		for i := range cells {
			cells[i] = mdCell(cells[i])
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	sep := func(n int) { b.WriteString("|" + strings.Repeat("---|", n) + "\n") }

	b.WriteString("# " + d.Title + "\n\n")
	row(w.kField, w.kValue)
	sep(2)
	for _, kv := range d.header(w) {
		if kv[0] == w.kPackage {
			kv[1] = code(kv[1])
		}
		row(kv[0], kv[1])
	}

	b.WriteString("\n## " + w.kPIDetail + "\n")
	items := func(title string, list []Item, withSwitch bool) {
		b.WriteString("\n### " + title + "\n\n")
		if len(list) == 0 {
			b.WriteString(w.none + "\n")
			return
		}
		head := []string{w.kInfo, w.kID}
		if withSwitch {
			head = append(head, w.kSwitch)
		}
		head = append(head, w.kItemPurpose, w.kItemScenario, w.kItemProcessing, w.kItemStorage, w.kItemLegal)
		row(head...)
		sep(len(head))
		for _, x := range list {
			cells := []string{x.Label, code(x.ID)}
			if withSwitch {
				cells = append(cells, code(x.Switch)+" "+x.SwitchLabel)
			}
			proc := x.Processing
			if proc == "" {
				proc = "-"
			}
			cells = append(cells, x.Purpose, x.Scenario, proc, x.Storage, x.LegalBasis)
			row(cells...)
		}
	}
	items(w.kRequired, d.Required, false)
	items(w.kOptional, d.Optional, true)

	b.WriteString("\n## " + w.kPermDetail + "\n\n")
	if d.PermissionsNote != "" {
		b.WriteString(d.PermissionsNote + "\n")
	}
	if len(d.Permissions) > 0 {
		row(w.kPermName, w.kPermPurpose, w.kPermTrigger, w.kPermOptional)
		sep(4)
		for _, p := range d.Permissions {
			opt := w.permRequired
			if p.Optional {
				opt = w.permOptional
			}
			row(code(p.Name), p.Purpose, p.Trigger, opt)
		}
	}

	b.WriteString("\n## " + w.kProcessing + "\n\n")
	for _, p := range d.Processing {
		b.WriteString("- " + p + "\n")
	}

	b.WriteString("\n## " + w.kStorage + "\n\n")
	b.WriteString("- **" + w.kPlace + "**" + c + d.Storage.Place + "\n")
	b.WriteString("- **" + w.kPeriod + "**" + strings.TrimSpace(c) + "\n")
	for _, p := range d.Storage.Periods {
		b.WriteString("  - " + d.periodLine(p, w, code) + "\n")
	}

	b.WriteString("\n## " + w.kSharing + "\n\n" + d.Sharing + "\n")

	b.WriteString("\n## " + w.kPolicy + "\n\n")
	for _, kv := range d.policyLines(w) {
		v := kv[1]
		if kv[0] == w.kInventory {
			v = code(v)
		}
		b.WriteString("- " + kv[0] + c + v + "\n")
	}
	b.WriteString("\n" + d.Generated + "\n")
}
