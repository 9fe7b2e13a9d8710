package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/parley-rtc/parley/internal/privacy/disclosure"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/store"
)

// Disclosure generates an app's privacy disclosures from the inventory
// (PROMISES DISCLOSE-1):
//
//	parley disclosure --app N --platform P [--lang zh|en] [--format F]
//	    [--data DIR | --config FILE] [--kek-file FILE] [--out FILE]
//	    [--switch ID=on|off …] [--recording on|off] [--relay on|off]
//	    [--name NAME] [--policy-url URL] [--policy-version V]
//	    [--provider NAME] [--contact TEXT] [--sdk-version V]
//
// With --data (or --config) the app's name and its recording and relay
// settings come from the local store, resolved like `parley app`; a
// --recording or --relay that contradicts the stored setting is refused, so
// a disclosure cannot misstate what the server does. Without them the flags
// describe the app. Switches (audio_enable, streams_config, extensions and
// optional fields) come from --switch: the app sets them in its SDK init
// config, and the server does not store them per app yet.
func Disclosure(ctx context.Context, args []string, env Env) int {
	inv, err := inventory.Default()
	if err != nil {
		return fail(env, "disclosure: %v", err)
	}
	var (
		f                                 appFlags
		platform, lang, format, out, name string
		policyURL, policyVersion, sdkVer  string
		provider, contact                 string
		recording, relay                  onOffFlag
		switches                          = switchFlag{inv: inv, on: map[string]bool{}}
		appID                             uint64
	)
	fs := flag.NewFlagSet("disclosure", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Uint64Var(&appID, "app", 0, "the app's `SDKAppID` (required)")
	fs.StringVar(&platform, "platform", "", "SDK `platform`: "+strings.Join(inventory.Platforms(), ", ")+" (required)")
	fs.StringVar(&lang, "lang", "zh", "`language`: zh or en")
	fs.StringVar(&format, "format", disclosure.FormatText, "output `format`: "+strings.Join(disclosure.Formats(), ", "))
	fs.StringVar(&f.data, "data", "", "read the app from this data `dir`ectory's store")
	fs.StringVar(&f.config, "config", "", "read the app from the store named by this server YAML configuration `file`")
	fs.StringVar(&f.kekFile, "kek-file", "", "key-encryption-key `file` (default <data>/kek; PARLEY_KEK wins)")
	fs.StringVar(&out, "out", "", "write to `file` instead of standard output")
	fs.Var(&switches, "switch", "turn a switch `id=on|off` (repeatable): audio_enable, streams_config, ext.*, field.<element id>")
	fs.Var(&recording, "recording", "cloud recording `on|off` (with --data: must match the stored setting)")
	fs.Var(&relay, "relay", "relay (bypass streaming) `on|off` (with --data: must match the stored setting)")
	fs.StringVar(&name, "name", "", "app `name` when not read from the store")
	fs.StringVar(&policyURL, "policy-url", "", "privacy policy `URL` to link")
	fs.StringVar(&policyVersion, "policy-version", "", "privacy policy `version`")
	fs.StringVar(&provider, "provider", "", "`name` of the party operating the Parley server (default: the self-hosted wording)")
	fs.StringVar(&contact, "contact", "", "how end users reach the provider (`text`)")
	fs.StringVar(&sdkVer, "sdk-version", versionString, "SDK `version` the disclosure describes")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: parley disclosure --app N --platform P [flags]\n\n"+
			"Generates the privacy disclosure of the Parley SDK for one app and platform from the\n"+
			"personal-information inventory: only what is on that platform and switched on is disclosed.\n"+
			"Pass with --switch the switches the app sets in its SDK init config (the server does not\n"+
			"store switches per app yet); --data reads the app's name, recording and relay settings.\n\n"+
			"Flags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "parley disclosure: "+format+"\n", a...)
		return ExitUsage
	}
	if appID == 0 || appID > math.MaxUint32 {
		return usageErr("--app is required and must be 1-%d", uint64(math.MaxUint32))
	}
	if platform == "" {
		return usageErr("--platform is required (%s)", strings.Join(inventory.Platforms(), ", "))
	}
	cfg := disclosure.AppConfig{
		SDKAppID:      uint32(appID),
		AppName:       name,
		Recording:     recording.value,
		Relay:         relay.value,
		Switches:      switches.on,
		PolicyURL:     policyURL,
		PolicyVersion: policyVersion,
		Provider:      provider,
		Contact:       contact,
	}
	opts := disclosure.Options{Platform: platform, Lang: lang, Format: format, SDKVersion: sdkVer}
	// Check the options before touching the store.
	if _, err := disclosure.Generate(inv, disclosure.AppConfig{SDKAppID: 1}, opts); err != nil {
		return usageErr("%v", err)
	}
	if f.data != "" || f.config != "" {
		if name != "" {
			return usageErr("--name comes from the store with --data or --config")
		}
		code, ok := loadAppSettings(ctx, f, env, &cfg, recording, relay)
		if !ok {
			return code
		}
	}
	b, err := disclosure.Generate(inv, cfg, opts)
	if err != nil {
		return fail(env, "disclosure: %v", err)
	}
	if out == "" {
		if _, err := env.Stdout.Write(b); err != nil {
			return fail(env, "disclosure: write: %v", err)
		}
		return ExitOK
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return fail(env, "disclosure: %v", err)
	}
	return ExitOK
}

// loadAppSettings fills cfg from the app's stored name and settings. It
// reports (exit code, false) when the command must stop.
func loadAppSettings(ctx context.Context, f appFlags, env Env, cfg *disclosure.AppConfig, recording, relay onOffFlag) (int, bool) {
	svc, closeFn, err := openApps(ctx, f, env, false)
	if err != nil {
		return fail(env, "disclosure: %v", err), false
	}
	a, err := svc.Get(ctx, cfg.SDKAppID)
	if cerr := closeFn(); cerr != nil && err == nil {
		err = fmt.Errorf("close database: %w", cerr)
	}
	if errors.Is(err, store.ErrNotFound) {
		return fail(env, "disclosure: no app with SDKAppID %d", cfg.SDKAppID), false
	}
	if err != nil {
		return fail(env, "disclosure: %v", err), false
	}
	for _, c := range []struct {
		flag   string
		given  onOffFlag
		stored bool
	}{{"recording", recording, a.Settings.Recording}, {"relay", relay, a.Settings.Relay}} {
		if c.given.set && c.given.value != c.stored {
			fmt.Fprintf(env.Stderr, "parley disclosure: app %d has %s %s; --%s %s would misstate it (change it with 'parley app settings')\n",
				cfg.SDKAppID, c.flag, onOff(c.stored), c.flag, onOff(c.given.value))
			return ExitUsage, false
		}
	}
	cfg.AppName = a.Name
	cfg.Recording = a.Settings.Recording
	cfg.Relay = a.Settings.Relay
	return 0, true
}

// switchFlag collects --switch id=on|off, refusing ids the inventory does
// not declare.
type switchFlag struct {
	inv *inventory.Inventory
	on  map[string]bool
}

func (s *switchFlag) String() string {
	if s == nil || len(s.on) == 0 {
		return ""
	}
	ids := make([]string, 0, len(s.on))
	for id, v := range s.on {
		ids = append(ids, id+"="+onOff(v))
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

func (s *switchFlag) Set(v string) error {
	id, val, ok := strings.Cut(v, "=")
	if !ok {
		return errors.New("want id=on|off")
	}
	if _, declared := s.inv.Switch(id); !declared {
		return fmt.Errorf("switch %q is not declared in the inventory", id)
	}
	var b onOffFlag
	if err := b.Set(val); err != nil {
		return err
	}
	s.on[id] = b.value
	return nil
}

var _ flag.Value = (*switchFlag)(nil)
