// Package disclosure generates, from the personal-information inventory and
// an app's actual configuration, the disclosures an app publishes about the
// Parley SDK it embeds (PROMISES DISCLOSE-1; REFERENCE §6.3):
//
//   - text and markdown: the third-party SDK disclosure an app pastes into its
//     privacy policy, in Chinese or English, laid out like the seed 000 and
//     003 examples (SDK name and package, provider and contact, purpose and
//     scenarios, PI types split required/optional with each switch,
//     permissions with purpose and timing, processing method, storage place
//     and period, policy link and versions);
//   - json: the same disclosure as a structured document;
//   - xcprivacy: an Apple PrivacyInfo.xcprivacy property list;
//   - play-csv: Google Play Data safety rows;
//   - fideslang: a fideslang system manifest.
//
// Only elements on the chosen platform and in force for the configuration
// appear: an extension or optional field the app left off is not disclosed,
// and audio/video are "forwarded, not stored" unless the app turned cloud
// recording on (COLLECT-3). Nothing outside the inventory can appear.
package disclosure

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
)

// Output formats.
const (
	FormatText      = "text"
	FormatMarkdown  = "markdown"
	FormatJSON      = "json"
	FormatXCPrivacy = "xcprivacy"
	FormatPlayCSV   = "play-csv"
	FormatFideslang = "fideslang"
)

// Formats lists the output formats.
func Formats() []string {
	return []string{FormatText, FormatMarkdown, FormatJSON, FormatXCPrivacy, FormatPlayCSV, FormatFideslang}
}

// Sentinel errors.
var (
	// ErrOptions means Options names an unknown platform, language or
	// format.
	ErrOptions = errors.New("disclosure: invalid options")
	// ErrConfig means AppConfig names a switch the inventory does not
	// declare.
	ErrConfig = errors.New("disclosure: invalid app configuration")
)

// AppConfig is the app's configuration the disclosure describes.
type AppConfig struct {
	SDKAppID uint32
	AppName  string
	// Recording is the app's cloud-recording setting: when on, audio and
	// video are stored with the recording retention instead of being
	// forwarded only.
	Recording bool
	// Relay is the app's relay (bypass streaming) setting.
	Relay bool
	// Switches are the switches the app turns on in its SDK init config
	// (switch id → on): audio_enable, streams_config, extensions and
	// optional fields. Absent means off.
	Switches map[string]bool
	// PolicyURL and PolicyVersion name the privacy policy covering
	// Parley's processing.
	PolicyURL, PolicyVersion string
	// Provider and Contact name the party that processes the data (for a
	// self-hosted Parley, the operator of the server) and how to reach
	// it; empty means the generic self-hosted wording.
	Provider, Contact string
}

// Options choose what to generate.
type Options struct {
	Platform string // android, ios, harmony, web, pc or go
	Lang     string // zh or en
	Format   string // one of Formats()
	// SDKVersion is the SDK release the disclosure describes; empty
	// means "unreleased".
	SDKVersion string
}

// Generate writes the disclosure for the app on one platform.
func Generate(inv *inventory.Inventory, cfg AppConfig, opts Options) ([]byte, error) {
	if inv == nil {
		return nil, fmt.Errorf("%w: nil inventory", ErrOptions)
	}
	if !slices.Contains(inventory.Platforms(), opts.Platform) {
		return nil, fmt.Errorf("%w: platform %q is not one of %s", ErrOptions, opts.Platform, strings.Join(inventory.Platforms(), ", "))
	}
	if opts.Lang != "zh" && opts.Lang != "en" {
		return nil, fmt.Errorf("%w: lang %q is not zh or en", ErrOptions, opts.Lang)
	}
	if !slices.Contains(Formats(), opts.Format) {
		return nil, fmt.Errorf("%w: format %q is not one of %s", ErrOptions, opts.Format, strings.Join(Formats(), ", "))
	}
	for id := range cfg.Switches {
		if _, ok := inv.Switch(id); !ok {
			return nil, fmt.Errorf("%w: switch %q is not declared in the inventory", ErrConfig, id)
		}
	}
	m := build(inv, cfg, opts)
	switch opts.Format {
	case FormatText:
		return renderText(m.document(), false), nil
	case FormatMarkdown:
		return renderText(m.document(), true), nil
	case FormatJSON:
		return renderJSON(m.document())
	case FormatXCPrivacy:
		return renderXCPrivacy(m), nil
	case FormatPlayCSV:
		return renderPlayCSV(m)
	default:
		return renderFideslang(m)
	}
}

// item is one element as it applies to this configuration.
type item struct {
	el *inventory.Element
	// stored, store and retention take cloud recording into account.
	stored    bool
	store     string
	retention inventory.Retention
	// recorded is true when the element is stored only because the app
	// turned recording on.
	recorded bool
}

// model is the resolved disclosure: what is in force, and how.
type model struct {
	inv  *inventory.Inventory
	cfg  AppConfig
	opts Options
	w    words
	// endUser are the end-user elements on the platform and in force, in
	// inventory order; operator is the developer's own data (seed 002).
	endUser, operator []item
}

func build(inv *inventory.Inventory, cfg AppConfig, opts Options) *model {
	m := &model{inv: inv, cfg: cfg, opts: opts, w: wordsFor(opts.Lang)}
	for i := range inv.Elements {
		e := &inv.Elements[i]
		it := item{el: e, stored: e.Stored, store: e.Store, retention: e.Retention}
		if cfg.Recording && e.WhenRecording != nil {
			it.stored, it.store, it.retention, it.recorded = true, e.WhenRecording.Store, e.WhenRecording.Retention, true
		}
		switch {
		case e.Purpose == inventory.PurposeOperator:
			m.operator = append(m.operator, it)
		case e.OnPlatform(opts.Platform) && e.Enabled(cfg.Switches):
			m.endUser = append(m.endUser, it)
		}
	}
	return m
}

// onSwitches returns the switches the app turned on, sorted.
func (m *model) onSwitches() []string {
	var out []string
	for id, on := range m.cfg.Switches {
		if on {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// leavesDevice reports whether the element leaves the device at all (Play:
// "collected" includes ephemeral processing; Apple: see appleCollected).
func (it item) leavesDevice() bool { return it.el.OnDevice != "local_only" }

// appleCollected: Apple counts data as collected when it is kept longer
// than needed to serve the request in real time, so forwarded-only media
// and signaling are not collected, while stored data is (REFERENCE §6.1:
// "Collected = stored or server-processed; forwarded-only media is not").
func (it item) appleCollected() bool { return it.stored && it.el.Apple != nil }

// userOptional reports whether the end user can refuse the element and
// keep using the app: optional elements, and elements whose purpose is
// consented separately from the call itself (quality, feedback;
// CONSENT-3 records consent per purpose).
func (it item) userOptional() bool {
	return !it.el.Required || it.el.Purpose == "quality" || it.el.Purpose == "feedback"
}

// sdkPackage is the SDK's package name per platform (seed 000 "SDK 名称 +
// 包名"). Only the Go SDK exists today; the others are the names reserved
// for the SDKs to come.
func sdkPackage(platform string) string {
	switch platform {
	case "android":
		return "io.github.parleyrtc.sdk"
	case "ios":
		return "ParleyRTC"
	case "harmony":
		return "@parley-rtc/sdk-harmony"
	case "web":
		return "@parley-rtc/sdk-js"
	case "pc":
		return "parley-rtc-pc"
	default:
		return "github.com/parley-rtc/parley/sdk/go"
	}
}

func (m *model) sdkVersion() string {
	if m.opts.SDKVersion == "" {
		return m.w.unreleased
	}
	return m.opts.SDKVersion
}
