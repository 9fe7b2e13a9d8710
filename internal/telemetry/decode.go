package telemetry

import (
	"encoding/json"
	"net/netip"
	"sort"
	"strconv"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/protocol"
)

// Scope is what the session allows (signal.Scope without the import).
type Scope struct {
	Platform string
	Purposes map[string]bool
	Switches map[string]bool
}

// ipElement is the inventory element carrying the device's IP prefix.
const ipElement = "network.ip_address"

// decoder validates report sections against the inventory.
type decoder struct {
	inv *inventory.Inventory
	// Server-side truncation, applied again on ingest whatever the
	// device sent (COLLECT-2): IPv4 /24 and IPv6 /48 at most.
	ipv4Bits, ipv6Bits int
}

// section validates one object of one section and returns it re-encoded
// with only validated, normalised values (keys sorted, so equal inputs
// store equal bytes). Values are written from their validated raw JSON
// rather than through encoding/json's reflection: validation already
// proved each one is a well-formed number, string or enum.
func (d *decoder) section(section string, obj map[string]json.RawMessage, scope Scope) ([]byte, error) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]byte, 0, 32*len(obj)+2)
	out = append(out, '{')
	for i, k := range keys {
		v, err := d.field(section, k, obj[k], scope)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = strconv.AppendQuote(out, k)
		out = append(out, ':')
		if s, ok := v.(string); ok && k == ipElement {
			out = strconv.AppendQuote(out, s)
			continue
		}
		out = appendCompact(out, obj[k])
	}
	return append(out, '}'), nil
}

// appendCompact appends a validated scalar JSON value without surrounding
// white space.
func appendCompact(dst []byte, raw json.RawMessage) []byte {
	start, end := 0, len(raw)
	for start < end && isSpace(raw[start]) {
		start++
	}
	for end > start && isSpace(raw[end-1]) {
		end--
	}
	return append(dst, raw[start:end]...)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// field applies, in order: declared for this section, platform, switch,
// purpose, value. The first failure names the field.
func (d *decoder) field(section, key string, raw json.RawMessage, scope Scope) (any, error) {
	reject := func(reason, detail string) error {
		return &RejectError{Section: section, Field: key, Reason: reason, Detail: detail}
	}
	el, ok := d.inv.Element(key)
	if !ok || el.Wire == nil || el.Wire.Section != section {
		return nil, reject(ReasonUndeclared, "not declared in the inventory for this section")
	}
	if scope.Platform != "" && !el.OnPlatform(scope.Platform) {
		return nil, reject(ReasonPlatform, "not declared for platform "+scope.Platform)
	}
	if sw := d.inv.SwitchFor(key); sw != "" && !scope.Switches[sw] {
		return nil, reject(ReasonSwitchedOff, "switch "+sw+" is off")
	}
	if !scope.Purposes[el.Purpose] {
		return nil, reject(ReasonNotConsented, "purpose "+el.Purpose+" not consented")
	}
	v, err := el.ValidateValue(raw)
	if err != nil {
		return nil, reject(ReasonBadValue, err.Error())
	}
	if key == ipElement {
		return d.truncateIP(v)
	}
	return v, nil
}

// truncateIP masks the prefix again with the server's limits, so even a
// device configured with a looser mask never gets a longer prefix stored.
func (d *decoder) truncateIP(v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, &RejectError{Section: protocol.SectionDevice, Field: ipElement, Reason: ReasonBadValue, Detail: "not a prefix"}
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return nil, &RejectError{Section: protocol.SectionDevice, Field: ipElement, Reason: ReasonBadValue, Detail: err.Error()}
	}
	bits := d.ipv6Bits
	if p.Addr().Unmap().Is4() {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits())
		bits = d.ipv4Bits
	}
	return netip.PrefixFrom(p.Addr(), min(p.Bits(), bits)).Masked().String(), nil
}

// decodedReport is a validated report: section name → re-encoded objects.
type decodedReport struct {
	sections []decodedSection
}

type decodedSection struct {
	name string
	data []byte
}

// report validates every section; one bad field rejects the whole report.
func (d *decoder) report(rep *protocol.TelemetryReport, scope Scope) (decodedReport, error) {
	var out decodedReport
	add := func(name string, obj map[string]json.RawMessage) error {
		if len(obj) == 0 {
			return nil
		}
		b, err := d.section(name, obj, scope)
		if err != nil {
			return err
		}
		out.sections = append(out.sections, decodedSection{name: name, data: b})
		return nil
	}
	if err := add(protocol.SectionQuality, rep.Quality); err != nil {
		return out, err
	}
	for _, s := range rep.Streams {
		if err := add(protocol.SectionStreams, s); err != nil {
			return out, err
		}
	}
	if err := add(protocol.SectionDevice, rep.Device); err != nil {
		return out, err
	}
	for _, e := range rep.Events {
		if err := add(protocol.SectionEvents, e); err != nil {
			return out, err
		}
	}
	return out, nil
}
