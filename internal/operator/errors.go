package operator

import "errors"

// Sentinel errors; callers match them with errors.Is. Messages name no
// password, token or personal data.
var (
	// ErrInvalid means an argument breaks a rule (name, role, password,
	// login body); the wrapped message says which.
	ErrInvalid = errors.New("operator: invalid")
	// ErrNotFound means there is no such (active) operator.
	ErrNotFound = errors.New("operator: not found")
	// ErrExists means the name is taken.
	ErrExists = errors.New("operator: name already taken")
	// ErrFirstOwner means the first operator of a data directory must be
	// an owner, so that someone can manage the others.
	ErrFirstOwner = errors.New("operator: the first operator must have role owner")
	// ErrLastOwner means the change would leave no active owner.
	ErrLastOwner = errors.New("operator: cannot disable the last active owner")
	// ErrBadCredentials means the name or the password is wrong (which
	// one is not said), or the account is disabled.
	ErrBadCredentials = errors.New("operator: wrong name or password")
	// ErrRateLimited means too many login attempts for one name.
	ErrRateLimited = errors.New("operator: too many login attempts")
	// ErrUnauthenticated means no valid session came with the request.
	ErrUnauthenticated = errors.New("operator: not logged in")
	// ErrSessionExpired means the session's 12 hours are over.
	ErrSessionExpired = errors.New("operator: session expired")
	// ErrForbidden means the operator's role lacks the permission.
	ErrForbidden = errors.New("operator: forbidden")
	// ErrBadHash means a stored password hash cannot be parsed.
	ErrBadHash = errors.New("operator: malformed password hash")
	// ErrAudit means the audit log could not record a read, so the read
	// was refused (SEC-2).
	ErrAudit = errors.New("operator: audit log unavailable")
)
