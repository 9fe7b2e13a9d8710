package inventory_test

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
)

// FuzzParse: Parse never panics, every error wraps ErrInvalid, and an
// accepted document keeps the rules (no optional element without a switch,
// every switch declared, every switch off by default).
func FuzzParse(f *testing.F) {
	good, err := os.ReadFile("inventory.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("switches: []\nelements: []\n"))
	f.Add([]byte("switches:\n  - {id: ext.apm, kind: extension, label: {en: a, zh: b}}\nelements:\n  - id: a.b\n"))
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("---\n---\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		inv, err := inventory.Parse(b)
		if err != nil {
			if !errors.Is(err, inventory.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		for _, s := range inv.Switches {
			if s.Default {
				t.Fatalf("accepted a switch on by default: %s", s.ID)
			}
		}
		for _, e := range inv.Elements {
			if !e.Required && e.Switch == "" {
				t.Fatalf("accepted optional %s without a switch", e.ID)
			}
			if e.Switch != "" {
				if _, ok := inv.Switch(e.Switch); !ok {
					t.Fatalf("accepted %s with undeclared switch %s", e.ID, e.Switch)
				}
			}
			if got, ok := inv.Element(e.ID); !ok || got.ID != e.ID {
				t.Fatalf("lookup of %s failed", e.ID)
			}
		}
	})
}

// FuzzValidateValue: for every telemetry element, ValidateValue never
// panics, refuses with ErrBadValue, and whatever it accepts is within the
// declared type (ints in range, strings valid and short, prefixes masked
// and truncated).
func FuzzValidateValue(f *testing.F) {
	inv, err := inventory.Default()
	if err != nil {
		f.Fatal(err)
	}
	var wire []*inventory.Element
	for i := range inv.Elements {
		if inv.Elements[i].Wire != nil {
			wire = append(wire, &inv.Elements[i])
		}
	}
	for _, s := range []string{`0`, `-1`, `1.5`, `1e9`, `"x"`, `"203.0.113.0/24"`, `"203.0.113.7/32"`,
		`"2001:db8::/48"`, `"::ffff:203.0.113.0/120"`, `"android"`, `null`, `{}`, `"\ud800"`, `"a\u0000"`} {
		for i := range wire {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, raw []byte) {
		e := wire[int(which)%len(wire)]
		v, err := e.ValidateValue(json.RawMessage(raw))
		if err != nil {
			if !errors.Is(err, inventory.ErrBadValue) {
				t.Fatalf("%s: error does not wrap ErrBadValue: %v", e.ID, err)
			}
			return
		}
		w := e.Wire
		switch w.Type {
		case inventory.TypeInt:
			n, ok := v.(int64)
			if !ok || n < w.Min || n > w.Max {
				t.Fatalf("%s: accepted %#v", e.ID, v)
			}
		case inventory.TypeString:
			s, ok := v.(string)
			if !ok || len(s) > w.MaxLen || !utf8.ValidString(s) {
				t.Fatalf("%s: accepted %q", e.ID, v)
			}
		case inventory.TypeEnum:
			s, ok := v.(string)
			if !ok || !slices.Contains(w.Enum, s) {
				t.Fatalf("%s: accepted %#v", e.ID, v)
			}
		case inventory.TypePrefix:
			s, ok := v.(string)
			if !ok {
				t.Fatalf("%s: accepted %#v", e.ID, v)
			}
			p, err := netip.ParsePrefix(s)
			if err != nil || p != p.Masked() ||
				(p.Addr().Is4() && p.Bits() > inventory.MaxIPv4PrefixBits) ||
				(p.Addr().Is6() && p.Bits() > inventory.MaxIPv6PrefixBits) {
				t.Fatalf("%s: accepted an un-truncated prefix %q", e.ID, s)
			}
		}
		// The normalised value re-encodes to JSON the check accepts again.
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ValidateValue(b); err != nil {
			t.Fatalf("%s: normalised %s refused: %v", e.ID, b, err)
		}
	})
}
