package sqlite

import "errors"

// Sentinel errors specific to the SQLite backend.
var (
	// ErrSchemaTooNew means the database was migrated by a newer Parley:
	// running an older binary against it could misread its tables.
	ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this binary")
	// ErrBadPath means the database path cannot be used, e.g. ":memory:",
	// which would give the writer and the read pool separate databases.
	ErrBadPath = errors.New("sqlite: unusable database path")
	// ErrBadMigration means an embedded migration file is misnamed; it is
	// a build defect, reported instead of panicking.
	ErrBadMigration = errors.New("sqlite: bad embedded migration")
	// ErrNoKEK means the database was opened without a key-encryption key
	// and a personal field had to be sealed or opened.
	ErrNoKEK = errors.New("sqlite: opened without a key-encryption key")
)
