package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Environment variables read by Load.
const (
	EnvConfig   = "PARLEY_CONFIG"
	EnvData     = "PARLEY_DATA"
	EnvListen   = "PARLEY_LISTEN"
	EnvUDPPort  = "PARLEY_UDP_PORT"
	EnvPublicIP = "PARLEY_PUBLIC_IP"
	EnvLogLevel = "PARLEY_LOG_LEVEL"
	EnvKEK      = "PARLEY_KEK"
)

// Load builds the configuration for `parley serve` from, in increasing
// precedence, the defaults, the YAML file named by --config (or
// PARLEY_CONFIG), the environment and the flags in args, then validates it.
//
// getenv may be nil (no environment). Flag errors and the --help text go to
// stderr. When --help is given Load returns flag.ErrHelp itself, so the
// caller can exit 0 after the help was printed; other command-line errors
// wrap ErrUsage.
func Load(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	// The flags are parsed first, into a throwaway Config, only to learn
	// the config file path and which flags were given; they are applied
	// last, over the file and environment, so they win.
	scratch := Default()
	var configPath string
	fs := newFlagSet(&scratch, &configPath, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, flag.ErrHelp
		}
		return Config{}, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return Config{}, fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	if configPath == "" {
		configPath = getenv(EnvConfig)
	}

	cfg := Default()
	if configPath != "" {
		b, err := os.ReadFile(configPath)
		if err != nil {
			return Config{}, fmt.Errorf("%w: %w", ErrFile, err)
		}
		if err := decodeYAML(configPath, b, &cfg); err != nil {
			return Config{}, err
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return Config{}, err
	}

	final := newFlagSet(&cfg, new(string), io.Discard)
	var setErr error
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "config" || setErr != nil {
			return
		}
		// The value already parsed once, so it parses again.
		if err := final.Set(f.Name, f.Value.String()); err != nil {
			setErr = fmt.Errorf("%w: --%s: %w", ErrUsage, f.Name, err)
		}
	})
	if setErr != nil {
		return Config{}, setErr
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// newFlagSet binds the serve flags to c. The defaults shown by --help are
// c's current values.
func newFlagSet(c *Config, configPath *string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(configPath, "config", "", "YAML configuration `file` (env "+EnvConfig+")")
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data `dir`ectory (env "+EnvData+")")
	fs.StringVar(&c.KEKFile, "kek-file", c.KEKFile, "key-encryption-key `file` (default <data>/kek; env "+EnvKEK+" holds the key itself)")
	fs.StringVar(&c.HTTP.Listen, "listen", c.HTTP.Listen, "HTTP listen `host:port` (env "+EnvListen+")")
	fs.IntVar(&c.Media.UDPPort, "udp-port", c.Media.UDPPort, "media UDP `port`, 0 for any (env "+EnvUDPPort+")")
	fs.StringVar(&c.Media.BindIP, "udp-bind", c.Media.BindIP, "media UDP bind `ip`")
	fs.StringVar(&c.Media.PublicIP, "public-ip", c.Media.PublicIP, "advertised media `ip` behind 1:1 NAT (env "+EnvPublicIP+")")
	fs.StringVar(&c.Log.Level, "log-level", c.Log.Level, "log `level`: debug|info|warn|error (env "+EnvLogLevel+")")
	fs.StringVar(&c.Log.Format, "log-format", c.Log.Format, "log `format`: text|json")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: parley serve [flags]\n\nPrecedence: defaults < --config file < environment < flags.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

func applyEnv(c *Config, getenv func(string) string) error {
	str := func(name string, dst *string) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			*dst = v
		}
	}
	str(EnvData, &c.DataDir)
	str(EnvListen, &c.HTTP.Listen)
	str(EnvPublicIP, &c.Media.PublicIP)
	str(EnvLogLevel, &c.Log.Level)
	str(EnvKEK, &c.KEK)
	if v := strings.TrimSpace(getenv(EnvUDPPort)); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%w: %s=%q: not an integer", ErrEnv, EnvUDPPort, v)
		}
		c.Media.UDPPort = p
	}
	return nil
}
