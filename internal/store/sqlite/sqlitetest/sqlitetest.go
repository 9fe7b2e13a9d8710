// Package sqlitetest gives tests of other packages the options to open a
// real SQLite store: a fixed test key-encryption key (never used outside
// tests) and the default keystore beside the database.
package sqlitetest

import (
	"bytes"
	"log/slog"

	"github.com/parley-rtc/parley/internal/store/sqlite"
)

// KEK is the tests' key-encryption key.
var KEK = bytes.Repeat([]byte{0x5a}, 32)

// Options returns store options with the test KEK.
func Options() sqlite.Options { return sqlite.Options{KEK: KEK} }

// OptionsWithLogger is Options with a logger.
func OptionsWithLogger(l *slog.Logger) sqlite.Options { return sqlite.Options{KEK: KEK, Logger: l} }
