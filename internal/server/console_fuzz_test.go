package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parley-rtc/parley/internal/operator"
)

// FuzzConsoleParsers feeds arbitrary text to the console's query and
// body parsers: each accepts or answers a 400 with a message, and never
// panics.
func FuzzConsoleParsers(f *testing.F) {
	for _, s := range []string{"1234", "s:lobby", "s:", "0", "4294967296", "2026-11-23", "2026-11-23T10:00:00Z",
		"1763850000", "-1", `{"recording":true}`, `{"message_retention_days":30,"billing_mode":"by_minute"}`,
		`{"recording":"yes"}`, `{}{}`, `null`, `[1]`, `{"colour":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(what string, err error) {
			if err == nil {
				return
			}
			var oe *operator.Error
			if !errors.As(err, &oe) || oe.Status != http.StatusBadRequest || oe.Message == "" {
				t.Fatalf("%s(%q): %v is not a 400 with a message", what, s, err)
			}
		}
		if ref, err := parseConsoleRoom(s); err == nil {
			if ref.Validate() != nil || (ref.ID == 0) == (ref.Str == "") {
				t.Fatalf("parseConsoleRoom(%q) accepted %+v", s, ref)
			}
		} else {
			check("parseConsoleRoom", err)
		}
		_, err := parseQualityTime("from", s)
		check("parseQualityTime", err)
		if _, oe := parseUsageDay("from", s); oe != nil {
			check("parseUsageDay", oe)
		}
		r := httptest.NewRequest(http.MethodPatch, "/", strings.NewReader(s))
		var p appSettingsPatch
		if _, oe := decodeManageBody(r, &p, false, appSettingsFields); oe != nil {
			check("decodeManageBody", oe)
		}
	})
}
