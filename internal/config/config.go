// Package config defines the server configuration: defaults, a strict YAML
// file, environment overrides and command-line flags, in that order of
// increasing precedence.
//
// Every key, with its default, environment variable and flag:
//
//	data_dir: ./parley-data            # PARLEY_DATA, --data
//	kek_file: ""                       # --kek-file; "" means <data_dir>/kek
//	                                   # PARLEY_KEK (base64 of 32 bytes) replaces the file
//	http:
//	  listen: 127.0.0.1:7880           # PARLEY_LISTEN, --listen
//	media:
//	  udp_port: 7882                   # PARLEY_UDP_PORT, --udp-port (0: any free port)
//	  bind_ip: 127.0.0.1               # --udp-bind
//	  public_ip: ""                    # PARLEY_PUBLIC_IP, --public-ip (advertised, NAT 1:1)
//	  socket_buffer_bytes: 4194304     # at least 1 MiB
//	rooms:
//	  max_participants: 300
//	signal:
//	  rate_per_second: 50              # signaling messages per connection
//	  burst: 100
//	  idle_timeout: 30s                # Go duration string
//	log:
//	  level: info                      # PARLEY_LOG_LEVEL, --log-level: debug|info|warn|error
//	  format: text                     # --log-format: text|json
//
// The file itself is named with --config or PARLEY_CONFIG. Unknown keys are
// errors, not warnings: a misspelt key silently ignored is a setting the
// operator believes is on.
package config

import (
	"log/slog"
	"path/filepath"
	"time"
)

// Defaults. They are constants so tests and documentation can refer to them.
const (
	DefaultDataDir           = "./parley-data"
	DefaultListen            = "127.0.0.1:7880"
	DefaultUDPPort           = 7882
	DefaultBindIP            = "127.0.0.1"
	DefaultSocketBufferBytes = 4 << 20
	DefaultMaxParticipants   = 300
	DefaultSignalRate        = 50
	DefaultSignalBurst       = 100
	DefaultIdleTimeout       = 30 * time.Second
	DefaultIMMaxMessageBytes = 12 << 10
	MaxIMMessageBytes        = 32 << 10
	DefaultIMGroupRate       = 40
	DefaultIMRecallWindow    = 2 * time.Minute
	DefaultPushTokenTTL      = 60 * 24 * time.Hour
	DefaultIMRetention       = 7 * 24 * time.Hour
	DefaultLogLevel          = "info"
	DefaultLogFormat         = "text"

	// MinSocketBufferBytes is the smallest UDP socket buffer accepted.
	// Below it a video keyframe burst from a few publishers overflows the
	// kernel queue and is dropped before the SFU sees it.
	MinSocketBufferBytes = 1 << 20
)

// Config is the complete server configuration.
type Config struct {
	// DataDir holds the SQLite database and, by default, the KEK file.
	DataDir string `yaml:"data_dir"`
	// KEKFile is the key-encryption-key file; empty means <DataDir>/kek.
	KEKFile string `yaml:"kek_file"`
	// KEK is the base64 key from PARLEY_KEK. It is never read from the
	// YAML file, because configuration files get committed and copied.
	KEK string `yaml:"-"`

	HTTP   HTTPConfig   `yaml:"http"`
	Media  MediaConfig  `yaml:"media"`
	Rooms  RoomsConfig  `yaml:"rooms"`
	Signal SignalConfig `yaml:"signal"`
	IM     IMConfig     `yaml:"im"`
	Log    LogConfig    `yaml:"log"`
}

// IMConfig sets the messaging limits (REFERENCE.md §2 defaults) and the
// app-backend callbacks.
type IMConfig struct {
	// MaxMessageBytes bounds a message's encoded elements plus
	// cloud_custom_data (12 KB; at most MaxIMMessageBytes).
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// GroupRate is the send rate per group in messages/s (40).
	GroupRate float64 `yaml:"group_rate"`
	// RecallWindow is how long a message may be recalled (2m).
	RecallWindow time.Duration `yaml:"recall_window"`
	// BeforeSendCallback makes every message wait (≤2 s) for the app
	// backend's verdict at its callback URL (C2C/Group.CallbackBeforeSendMsg).
	BeforeSendCallback bool `yaml:"before_send_callback"`
	// BeforeSendDefaultAllow is the verdict when the callback times out or
	// fails (true: deliver).
	BeforeSendDefaultAllow bool `yaml:"before_send_default_allow"`
	// Retention is how long message history is kept (RETAIN-3: the
	// app's configured retention; 7 days, at least 1 day). The retention
	// engine drops whole UTC days past it.
	Retention time.Duration `yaml:"retention"`
	// ReceiptGroupTypes are the group types with read receipts (C2C
	// always has them); AVChatRoom and Community cannot (REFERENCE §2).
	ReceiptGroupTypes []string `yaml:"receipt_group_types"`
	// PushTokenTTL deletes push tokens not registered again (the SDK
	// registers at each login) for this long (60 days).
	PushTokenTTL time.Duration `yaml:"push_token_ttl"`
}

// HTTPConfig configures the HTTP listener (signaling WebSocket, REST, console).
type HTTPConfig struct {
	// Listen is host:port; port 0 picks a free port (tests).
	Listen string `yaml:"listen"`
	// Demo serves the demo app at /demo/ with its UserSig endpoint,
	// which mints UserSigs for the development app only (like TRTC's
	// GenerateTestUserSig, a convenience for evaluation). Turn it off in
	// production: anyone who can reach it can act as any user of the
	// development app.
	Demo bool `yaml:"demo"`
}

// MediaConfig configures the single UDP port all media flows through.
type MediaConfig struct {
	// UDPPort is the media port; 0 picks a free port (tests).
	UDPPort int `yaml:"udp_port"`
	// BindIP is the local address of the media socket.
	BindIP string `yaml:"bind_ip"`
	// PublicIP, when set, is advertised in ICE candidates instead of
	// BindIP, for hosts behind a 1:1 NAT.
	PublicIP string `yaml:"public_ip"`
	// SocketBufferBytes sizes the kernel send and receive buffers.
	SocketBufferBytes int `yaml:"socket_buffer_bytes"`
}

// RoomsConfig bounds rooms.
type RoomsConfig struct {
	MaxParticipants int `yaml:"max_participants"`
}

// SignalConfig bounds each signaling connection.
type SignalConfig struct {
	// RatePerSecond and Burst form a token bucket per connection.
	RatePerSecond float64 `yaml:"rate_per_second"`
	Burst         int     `yaml:"burst"`
	// IdleTimeout closes a connection that sent nothing, not even a ping.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// LogConfig selects the slog handler.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Default returns the configuration used when nothing overrides it.
func Default() Config {
	return Config{
		DataDir: DefaultDataDir,
		HTTP:    HTTPConfig{Listen: DefaultListen, Demo: true},
		Media: MediaConfig{
			UDPPort:           DefaultUDPPort,
			BindIP:            DefaultBindIP,
			SocketBufferBytes: DefaultSocketBufferBytes,
		},
		Rooms: RoomsConfig{MaxParticipants: DefaultMaxParticipants},
		Signal: SignalConfig{
			RatePerSecond: DefaultSignalRate,
			Burst:         DefaultSignalBurst,
			IdleTimeout:   DefaultIdleTimeout,
		},
		IM: IMConfig{
			MaxMessageBytes:        DefaultIMMaxMessageBytes,
			GroupRate:              DefaultIMGroupRate,
			RecallWindow:           DefaultIMRecallWindow,
			BeforeSendDefaultAllow: true,
			ReceiptGroupTypes:      []string{"Work", "Public", "Meeting"},
			Retention:              DefaultIMRetention,
			PushTokenTTL:           DefaultPushTokenTTL,
		},
		Log: LogConfig{Level: DefaultLogLevel, Format: DefaultLogFormat},
	}
}

// KEKPath returns the key-encryption-key file: KEKFile, or <DataDir>/kek.
func (c Config) KEKPath() string {
	if c.KEKFile != "" {
		return c.KEKFile
	}
	return filepath.Join(c.DataDir, "kek")
}

// SlogLevel returns Log.Level as a slog.Level; call it after Validate.
func (c Config) SlogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Log.Level)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// LogValue keeps the KEK out of logs when the configuration is logged at
// startup.
func (c Config) LogValue() slog.Value {
	kek := "file:" + c.KEKPath()
	if c.KEK != "" {
		kek = "env:PARLEY_KEK"
	}
	return slog.GroupValue(
		slog.String("data_dir", c.DataDir),
		slog.String("kek", kek),
		slog.String("http.listen", c.HTTP.Listen),
		slog.Int("media.udp_port", c.Media.UDPPort),
		slog.String("media.bind_ip", c.Media.BindIP),
		slog.String("media.public_ip", c.Media.PublicIP),
		slog.Int("media.socket_buffer_bytes", c.Media.SocketBufferBytes),
		slog.Int("rooms.max_participants", c.Rooms.MaxParticipants),
		slog.Float64("signal.rate_per_second", c.Signal.RatePerSecond),
		slog.Int("signal.burst", c.Signal.Burst),
		slog.Duration("signal.idle_timeout", c.Signal.IdleTimeout),
		slog.Int("im.max_message_bytes", c.IM.MaxMessageBytes),
		slog.Float64("im.group_rate", c.IM.GroupRate),
		slog.Duration("im.recall_window", c.IM.RecallWindow),
		slog.Bool("im.before_send_callback", c.IM.BeforeSendCallback),
		slog.Bool("im.before_send_default_allow", c.IM.BeforeSendDefaultAllow),
		slog.Duration("im.push_token_ttl", c.IM.PushTokenTTL),
		slog.Any("im.receipt_group_types", c.IM.ReceiptGroupTypes),
		slog.Duration("im.retention", c.IM.Retention),
		slog.String("log.level", c.Log.Level),
		slog.String("log.format", c.Log.Format),
	)
}
