package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/store"
)

// onOffFlag is a flag taking on|off that remembers whether it was given,
// so `app settings` changes only what the operator named.
type onOffFlag struct {
	set, value bool
}

func (f *onOffFlag) String() string { return onOff(f.value) }

func (f *onOffFlag) Set(s string) error {
	switch s {
	case "on", "true", "1":
		f.value = true
	case "off", "false", "0":
		f.value = false
	default:
		return fmt.Errorf("%q is not on or off", s)
	}
	f.set = true
	return nil
}

// daysFlag is a whole number of days that remembers whether it was given.
// Its range is checked by app.ValidateSettings, which the console's
// PATCH …/settings reaches too.
type daysFlag struct {
	set   bool
	value int
}

func (f *daysFlag) String() string { return strconv.Itoa(f.value) }

func (f *daysFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number of days", s)
	}
	f.value, f.set = n, true
	return nil
}

// retentionText describes an app's message retention for the text output.
func retentionText(days int) string {
	if days == 0 {
		return "server default (im.retention)"
	}
	return strconv.Itoa(days) + " days"
}

// appSettings changes an app's settings: parley app settings --sdkappid N
// [--recording on|off] [--relay on|off] [--billing MODE]
// [--private-map-key on|off] [--minor-audience on|off]
// [--message-retention-days N]. With no change flags it prints the
// settings.
func appSettings(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newAppFlagSet("settings", env, &f)
	getID := sdkAppIDFlag(fs)
	var recording, relay, pmk, minors onOffFlag
	fs.Var(&recording, "recording", "cloud recording `on|off` (media is stored only when on)")
	fs.Var(&relay, "relay", "relay (bypass streaming) `on|off`")
	fs.Var(&pmk, "private-map-key", "require a PrivateMapKey to enter rooms: `on|off`")
	fs.Var(&minors, "minor-audience", "declare the app's users under 14: guardian consent for everyone, optional switches off (`on|off`)")
	billing := fs.String("billing", "", "billing `mode`: "+string(store.BillingParticipantMinutes)+" or "+string(store.BillingBandwidth))
	var retention daysFlag
	fs.Var(&retention, "message-retention-days", fmt.Sprintf("keep the app's message history `N` days (1-%d); 0 returns to the server's im.retention (RETAIN-3)",
		store.MaxMessageRetentionDays))
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	id, ok := getID(env)
	if !ok {
		return ExitUsage
	}
	return withApps(ctx, "settings", f, env, false, func(svc *app.Service) int {
		a, err := svc.Get(ctx, id)
		if err != nil {
			return appError(env, "settings", id, err)
		}
		s := a.Settings
		changed := recording.set || relay.set || pmk.set || minors.set || *billing != "" || retention.set
		if recording.set {
			s.Recording = recording.value
		}
		if relay.set {
			s.Relay = relay.value
		}
		if pmk.set {
			s.EnforcePrivateMapKey = pmk.value
		}
		if minors.set {
			s.MinorAudience = minors.value
		}
		if *billing != "" {
			s.BillingMode = store.BillingMode(*billing)
		}
		if retention.set {
			s.MessageRetentionDays = retention.value
		}
		if changed {
			if err := svc.UpdateSettings(ctx, id, s); err != nil {
				return appError(env, "settings", id, err)
			}
			a.Settings = s
		}
		a.SecretKey = "" // settings output never shows the secret
		if f.json {
			return writeJSON(env, toAppJSON(a))
		}
		if err := printApp(env.Stdout, a); err != nil {
			return fail(env, "app settings: %v", err)
		}
		return ExitOK
	})
}

var _ flag.Value = (*onOffFlag)(nil)
