package incident

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
)

func testInventory(t testing.TB) *inventory.Inventory {
	t.Helper()
	inv, err := inventory.Default()
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestParseApps(t *testing.T) {
	all, ids, err := ParseApps("all")
	if err != nil || !all || ids != nil {
		t.Fatalf("all: %v %v %v", all, ids, err)
	}
	all, ids, err = ParseApps(" 1400000002, 1400000001 ")
	if err != nil || all || len(ids) != 2 || ids[0] != 1400000001 || ids[1] != 1400000002 {
		t.Fatalf("list: %v %v %v", all, ids, err)
	}
	for in, msg := range map[string]string{
		"":                      `give comma-separated SDKAppIDs or "all"`,
		"1400000001,all":        `--apps item 2 "all"`,
		"1400000001,,2":         `--apps item 2 ""`,
		"0":                     `--apps item 1 "0"`,
		"4294967296":            `--apps item 1 "4294967296"`,
		"+5":                    `--apps item 1 "+5"`,
		"07":                    `--apps item 1 "07"`,
		"1400000001,1400000001": "SDKAppID 1400000001 listed twice",
	} {
		if _, _, err := ParseApps(in); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want %q", in, err, msg)
		}
	}
}

// proves SEC-3: categories are inventory element ids; an unknown one is
// named in the error, with the known ids that share its prefix.
func TestParseCategories(t *testing.T) {
	inv := testInventory(t)
	got, err := ParseCategories("im.message, identity.user_id,im.message", inv)
	if err != nil || strings.Join(got, ",") != "identity.user_id,im.message" {
		t.Fatalf("got %v %v", got, err)
	}
	_, err = ParseCategories("identity.user_id,im.message_text", inv)
	if !errors.Is(err, ErrUnknownCategory) {
		t.Fatalf("unknown: %v", err)
	}
	if !strings.HasPrefix(err.Error(), `incident: unknown data category "im.message_text": not an inventory element id (known ids with that prefix: `) ||
		!strings.Contains(err.Error(), "im.message") {
		t.Fatalf("message %q", err)
	}
	if _, err := ParseCategories("nothing", inv); !errors.Is(err, ErrUnknownCategory) || !strings.Contains(err.Error(), "docs/inventory.md") {
		t.Fatalf("no prefix match: %v", err)
	}
	if _, err := ParseCategories("im.message,", inv); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "item 2 is empty") {
		t.Fatalf("empty item: %v", err)
	}
}

func TestValidate(t *testing.T) {
	inv := testInventory(t)
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	ok := Declaration{Apps: []uint32{1}, Categories: []string{"im.message"}, WhatHappened: "w", Impact: "i",
		Measures: "m", Advice: "a", Remedies: "r", Contact: "c"}
	if err := ok.Validate(inv, now); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		mod  func(*Declaration)
		want string
	}{
		"no apps":      {func(d *Declaration) { d.Apps = nil }, "either every app or a list"},
		"both":         {func(d *Declaration) { d.AllApps = true }, "either every app or a list"},
		"no category":  {func(d *Declaration) { d.Categories = nil }, "--categories: at least one"},
		"bad category": {func(d *Declaration) { d.Categories = []string{"x.y"} }, `unknown data category "x.y"`},
		"no advice":    {func(d *Declaration) { d.Advice = "  " }, "--advice is required"},
		"no contact":   {func(d *Declaration) { d.Contact = "" }, "--contact is required"},
		"long":         {func(d *Declaration) { d.Impact = strings.Repeat("x", MaxTextLen+1) }, "--impact is 4001 bytes, at most 4000"},
		"future":       {func(d *Declaration) { d.Since = now.Add(time.Hour) }, "--since 2026-11-20T13:00:00Z is after the declaration"},
	} {
		d := ok
		tc.mod(&d)
		if err := d.Validate(inv, now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

func TestSources(t *testing.T) {
	inv := testInventory(t)
	for id, want := range map[string]string{
		"identity.user_id":   "consent_ledger,im_sessions,messages,quality_logs",
		"identity.device_id": "consent_ledger,im_sessions,quality_logs",
		"im.message":         "messages",
		"quality.rtt_ms":     "quality_logs",
		"im.push_token":      "im_sessions",
		"media.audio":        "",
		"key.secret_key":     "",
	} {
		got := sourcesOf(inv, []string{id})
		s := make([]string, len(got))
		for i, g := range got {
			s[i] = string(g)
		}
		if strings.Join(s, ",") != want {
			t.Errorf("%s: %v, want %s", id, s, want)
		}
	}
}

// FuzzParseDeclareFlags: the --apps and --categories parsers never panic;
// what they accept is well-formed (sorted, unique, known ids; SDKAppIDs
// in range) and what they refuse wraps a sentinel.
func FuzzParseDeclareFlags(f *testing.F) {
	for _, s := range [][2]string{
		{"all", "identity.user_id"}, {"1400000001,1400000002", "im.message,quality.rtt_ms"},
		{"", ""}, {",", ","}, {"1,1", "im.message_text"}, {"4294967295", " im.message "}, {"-1", "all"},
		{"١٢٣", "identity.user_id,"}, {"0x10", "\xff"},
	} {
		f.Add(s[0], s[1])
	}
	inv := testInventory(f)
	f.Fuzz(func(t *testing.T, apps, cats string) {
		all, ids, err := ParseApps(apps)
		switch {
		case err != nil:
			if !errors.Is(err, ErrInvalid) || all || ids != nil {
				t.Fatalf("apps %q: %v %v %v", apps, all, ids, err)
			}
		case all:
			if ids != nil {
				t.Fatalf("all with ids %v", ids)
			}
		default:
			if len(ids) == 0 || len(ids) > MaxApps {
				t.Fatalf("apps %q: %d ids", apps, len(ids))
			}
			for i, id := range ids {
				if id == 0 || i > 0 && ids[i-1] >= id {
					t.Fatalf("apps %q: ids %v not sorted and unique", apps, ids)
				}
			}
		}
		got, err := ParseCategories(cats, inv)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnknownCategory) {
				t.Fatalf("categories %q: %v", cats, err)
			}
			return
		}
		for i, c := range got {
			if _, ok := inv.Element(c); !ok || i > 0 && got[i-1] >= c {
				t.Fatalf("categories %q: %v", cats, got)
			}
		}
	})
}
