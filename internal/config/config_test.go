package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "parley.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsAreValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(nil, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("Load() = %+v, want defaults %+v", cfg, want)
	}
	if cfg.KEKPath() != filepath.Join(DefaultDataDir, "kek") {
		t.Errorf("KEKPath = %q", cfg.KEKPath())
	}
	if cfg.Signal.IdleTimeout != 30*time.Second || cfg.Media.SocketBufferBytes != 4<<20 {
		t.Errorf("defaults changed: %+v", cfg)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, `
data_dir: /from/file
http:
  listen: 10.0.0.1:1000
media:
  udp_port: 1001
  public_ip: 203.0.113.1
log:
  level: debug
  format: json
signal:
  idle_timeout: 45s
`)
	env := map[string]string{
		EnvListen:  "10.0.0.2:2000",
		EnvUDPPort: "2001",
	}
	args := []string{"--config", file, "--listen", "10.0.0.3:3000"}
	cfg, err := Load(args, envMap(env), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"data_dir (file)", cfg.DataDir, "/from/file"},
		{"listen (flag beats env and file)", cfg.HTTP.Listen, "10.0.0.3:3000"},
		{"udp_port (env beats file)", cfg.Media.UDPPort, 2001},
		{"public_ip (file)", cfg.Media.PublicIP, "203.0.113.1"},
		{"log.level (file)", cfg.Log.Level, "debug"},
		{"log.format (file)", cfg.Log.Format, "json"},
		{"idle_timeout (file)", cfg.Signal.IdleTimeout, 45 * time.Second},
		{"bind_ip (default)", cfg.Media.BindIP, DefaultBindIP},
		{"max_participants (default)", cfg.Rooms.MaxParticipants, DefaultMaxParticipants},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	// PARLEY_CONFIG names the file when --config is absent, and a flag
	// given with its default value still wins over the environment.
	env[EnvConfig] = file
	env[EnvLogLevel] = "warn"
	cfg, err = Load([]string{"--udp-port", "7882"}, envMap(env), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/from/file" || cfg.Media.UDPPort != 7882 || cfg.Log.Level != "warn" {
		t.Errorf("got data=%q udp=%d level=%q", cfg.DataDir, cfg.Media.UDPPort, cfg.Log.Level)
	}
}

func TestKEKFromEnv(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	cfg, err := Load([]string{"--data", "/d"}, envMap(map[string]string{EnvKEK: key}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.KEK != key {
		t.Fatal("PARLEY_KEK not carried")
	}
	if cfg.KEKPath() != filepath.Join("/d", "kek") {
		t.Errorf("KEKPath = %q", cfg.KEKPath())
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "cfg", cfg)
	if strings.Contains(buf.String(), key) {
		t.Fatalf("KEK logged: %s", buf.String())
	}
	_, err = Load(nil, envMap(map[string]string{EnvKEK: "c2hvcnQ="}), &bytes.Buffer{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), EnvKEK) {
		t.Fatalf("short KEK: err = %v", err)
	}
	if strings.Contains(err.Error(), "c2hvcnQ=") {
		t.Fatal("error echoes the secret")
	}
}

func TestUnknownKeyRejected(t *testing.T) {
	file := writeFile(t, "http:\n  listen: :7880\nmedia:\n  udp_prot: 9000\nbogus: 1\n")
	_, err := Load([]string{"--config", file}, nil, &bytes.Buffer{})
	if !errors.Is(err, ErrFile) {
		t.Fatalf("err = %v, want ErrFile", err)
	}
	for _, want := range []string{
		file + `:4: unknown key "media.udp_prot"`,
		file + `:5: unknown key "bogus"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	// ParseYAML has no file name and reports the line alone.
	if _, err := ParseYAML([]byte("log:\n  levle: debug\n")); err == nil ||
		!strings.Contains(err.Error(), `line 2: unknown key "log.levle"`) {
		t.Errorf("ParseYAML err = %v", err)
	}
}

func TestYAMLErrors(t *testing.T) {
	cases := map[string]struct {
		yaml string
		want string
	}{
		"wrong type":     {"media:\n  udp_port: abc\n", "line 2: media.udp_port: cannot unmarshal"},
		"int duration":   {"signal:\n  idle_timeout: 30\n", "line 2: signal.idle_timeout"},
		"bad duration":   {"signal:\n  idle_timeout: soon\n", "signal.idle_timeout"},
		"two documents":  {"log:\n  level: info\n---\nlog:\n  level: debug\n", "more than one YAML document"},
		"top-level list": {"- a\n- b\n", "top level must be a mapping"},
		"syntax":         {"http: [\n", "line"},
		"section scalar": {"media: 5\n", "cannot unmarshal"},
		"duplicate key":  {"log:\n  level: info\n  level: debug\n", "already defined"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseYAML([]byte(c.yaml))
			if !errors.Is(err, ErrFile) {
				t.Fatalf("err = %v, want ErrFile", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %q, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestYAMLNullsKeepDefaults(t *testing.T) {
	for _, doc := range []string{"", "~\n", "# only a comment\n", "http:\n", "media:\n  udp_port:\n  bind_ip: 0.0.0.0\n"} {
		cfg, err := ParseYAML([]byte(doc))
		if err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		if cfg.HTTP.Listen != DefaultListen || cfg.Media.UDPPort != DefaultUDPPort {
			t.Errorf("%q: defaults lost: %+v", doc, cfg)
		}
	}
}

func TestYAMLAnchorsAndMerge(t *testing.T) {
	cfg, err := ParseYAML([]byte(`
base: &b
  udp_port: 9000
`))
	if err == nil {
		t.Fatalf("unknown key via anchor accepted: %+v", cfg)
	}
	cfg, err = ParseYAML([]byte(`
http: &h
  listen: ":9999"
media:
  <<: {udp_port: 9001}
  bind_ip: 0.0.0.0
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Media.UDPPort != 9001 || cfg.HTTP.Listen != ":9999" {
		t.Errorf("got %+v", cfg)
	}
	if _, err := ParseYAML([]byte("media:\n  <<: {udp_prot: 1}\n")); err == nil ||
		!strings.Contains(err.Error(), `"media.udp_prot"`) {
		t.Errorf("unknown key inside merge: err = %v", err)
	}
}

func TestBadValues(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		yaml string
		want string
	}{
		{name: "port high", args: []string{"--udp-port", "70000"}, want: "media.udp_port = 70000: must be 0-65535"},
		{name: "port negative", args: []string{"--udp-port", "-1"}, want: "media.udp_port = -1"},
		{name: "listen no port", args: []string{"--listen", "127.0.0.1"}, want: `http.listen = "127.0.0.1": must be host:port`},
		{name: "listen named port", args: []string{"--listen", "localhost:http"}, want: "port must be a number"},
		{name: "listen port range", args: []string{"--listen", ":99999"}, want: "port must be 0-65535"},
		{name: "bind ip", args: []string{"--udp-bind", "example.com"}, want: "media.bind_ip"},
		{name: "public ip", args: []string{"--public-ip", "0.0.0.0"}, want: "media.public_ip = 0.0.0.0: must be a unicast"},
		{name: "public ip text", env: map[string]string{EnvPublicIP: "nat"}, want: `media.public_ip = "nat"`},
		{name: "level", args: []string{"--log-level", "verbose"}, want: `log.level = "verbose": must be debug, info, warn or error`},
		{name: "format", args: []string{"--log-format", "xml"}, want: `log.format = "xml"`},
		{name: "buffer", yaml: "media:\n  socket_buffer_bytes: 65536\n", want: "media.socket_buffer_bytes = 65536: must be at least 1048576"},
		{name: "participants", yaml: "rooms:\n  max_participants: 0\n", want: "rooms.max_participants = 0: must be positive"},
		{name: "rate", yaml: "signal:\n  rate_per_second: -1\n", want: "signal.rate_per_second = -1"},
		{name: "rate nan", yaml: "signal:\n  rate_per_second: .nan\n", want: "signal.rate_per_second = NaN"},
		{name: "rate inf", yaml: "signal:\n  rate_per_second: .inf\n", want: "positive finite"},
		{name: "burst", yaml: "signal:\n  burst: 0\n", want: "signal.burst = 0"},
		{name: "idle", yaml: "signal:\n  idle_timeout: -1s\n", want: "signal.idle_timeout = -1s"},
		{name: "data dir", args: []string{"--data", ""}, want: "data_dir"},
		{name: "im size", yaml: "im:\n  max_message_bytes: 40000\n", want: "im.max_message_bytes = 40000: must be 1-32768"},
		{name: "im rate", yaml: "im:\n  group_rate: 0\n", want: "im.group_rate = 0"},
		{name: "im recall", yaml: "im:\n  recall_window: 0s\n", want: "im.recall_window = 0s"},
		{name: "im receipts", yaml: "im:\n  receipt_group_types: [Work, AVChatRoom]\n", want: `im.receipt_group_types = "AVChatRoom": must be Work, Public or Meeting`},
		{name: "im push ttl", yaml: "im:\n  push_token_ttl: 10m\n", want: "im.push_token_ttl = 10m0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.yaml != "" {
				args = append([]string{"--config", writeFile(t, c.yaml)}, args...)
			}
			_, err := Load(args, envMap(c.env), &bytes.Buffer{})
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %q, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestValidateReportsAllProblems(t *testing.T) {
	c := Default()
	c.Media.UDPPort = 1 << 20
	c.Log.Level = "loud"
	err := c.Validate()
	if err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Fatalf("want two lines, got %v", err)
	}
}

func TestCommandLineErrors(t *testing.T) {
	var stderr bytes.Buffer
	_, err := Load([]string{"--help"}, nil, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: err = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"Usage: parley serve", "-listen", "-udp-port", "-config", "127.0.0.1:7880"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stderr.String())
		}
	}

	for name, args := range map[string][]string{
		"unknown flag": {"--nope"},
		"bad int":      {"--udp-port", "x"},
		"positional":   {"extra"},
	} {
		stderr.Reset()
		_, err := Load(args, nil, &stderr)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%s: err = %v, want ErrUsage", name, err)
		}
		if stderr.Len() == 0 {
			t.Errorf("%s: nothing printed", name)
		}
	}

	_, err = Load(nil, envMap(map[string]string{EnvUDPPort: "seven"}), &stderr)
	if !errors.Is(err, ErrEnv) || !strings.Contains(err.Error(), EnvUDPPort) {
		t.Errorf("env: err = %v", err)
	}
	_, err = Load([]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, nil, &stderr)
	if !errors.Is(err, ErrFile) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}

func FuzzParseYAML(f *testing.F) {
	for _, seed := range []string{
		"",
		"data_dir: /x\nhttp:\n  listen: :1\n",
		"media:\n  udp_port: 1\n  bind_ip: ::1\n  socket_buffer_bytes: 1048576\n",
		"signal:\n  idle_timeout: 1m\n  rate_per_second: 2.5\n",
		"a: &a {b: 1}\nc: *a\n",
		"media:\n  <<: [{udp_port: 2}]\n",
		"---\n---\n",
		"log: {level: debug, format: json}\n",
		"http: [\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c1, err1 := ParseYAML(b)
		c2, err2 := ParseYAML(b)
		if (err1 == nil) != (err2 == nil) || fmt.Sprintf("%+v", c1) != fmt.Sprintf("%+v", c2) {
			t.Fatalf("ParseYAML not deterministic: %v / %v", err1, err2)
		}
		if err1 != nil {
			if !errors.Is(err1, ErrFile) {
				t.Fatalf("error does not wrap ErrFile: %v", err1)
			}
			return
		}
		_ = c1.Validate() // must not panic on any decoded value
	})
}
