package server

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
)

// FuzzRightsREST feeds arbitrary bodies to the data-subject-rights REST
// actions over real stores: each answers with a result or a precise
// error, never a panic, and a refused or invalid request leaves nothing
// half-done (the store stays consistent: the next valid request works).
func FuzzRightsREST(f *testing.F) {
	ctx := context.Background()
	local, err := app.OpenLocalStores(ctx, app.LocalOptions{DataDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = local.Close() })
	inv, err := inventory.Default()
	if err != nil {
		f.Fatal(err)
	}
	rights, err := NewRights(local, inv, RightsOptions{})
	if err != nil {
		f.Fatal(err)
	}
	a := &restAPI{rights: rights, log: slog.New(slog.DiscardHandler), limiters: newLimiterSet(restRatePerAction)}
	actions := a.rightsActions()
	for _, s := range []string{
		`{"Type":"access","UserId":"alice"}`, `{"Type":"delete-device","UserId":"alice","DeviceId":"d1"}`,
		`{"Type":"correct","UserId":"alice","Corrections":[{"field":"age_band","value":"minor"}]}`,
		`{"RequestId":"00000000000000000000000000000000"}`, `{"Limit":-1}`, `{"Type":"cancel","UserId":""}`, `[]`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for name, h := range actions {
			out, rerr := h(ctx, fuzzApp, []byte(body))
			if rerr == nil && out == nil {
				t.Fatalf("%s(%q): no result and no error", name, body)
			}
			if rerr != nil && (rerr.Code == "" || rerr.Message == "") {
				t.Fatalf("%s(%q): imprecise error %+v", name, body, rerr)
			}
		}
	})
}
