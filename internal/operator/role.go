// Package operator is console access control (PROMISES SEC-2): operator
// accounts with a role each, PBKDF2 password hashes, 12-hour sessions,
// a login rate limit, a permission table per role, and HTTP middleware
// that admits a request only with a permitted role and records every
// read of personal data in the audit log before the data is returned.
//
// The permission table is docs/operators.md; tests keep the two in step.
package operator

import (
	"fmt"
	"slices"
	"strings"
)

// Role is an operator's role.
type Role string

// Roles, from most to least powerful.
const (
	// RoleOwner may do everything, operator management included.
	RoleOwner Role = "owner"
	// RoleDeveloper manages apps and their settings; it never reads
	// personal data.
	RoleDeveloper Role = "developer"
	// RoleSupport reads personal data, only through audited endpoints.
	RoleSupport Role = "support"
	// RoleAuditor reads the audit log, its checkpoints and the
	// retention status, and personal data only through audited
	// endpoints.
	RoleAuditor Role = "auditor"
)

// Roles lists every role in a fixed order.
func Roles() []Role { return []Role{RoleOwner, RoleDeveloper, RoleSupport, RoleAuditor} }

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles(), r) }

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", fmt.Errorf("%w: role %q: want one of %s", ErrInvalid, s, roleList(Roles()))
	}
	return r, nil
}

func roleList(rs []Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// Permission is one thing the console lets an operator do.
type Permission string

// Permissions. docs/operators.md lists which role has which.
const (
	// PermSession: see yourself, log out. Every role.
	PermSession Permission = "session"
	// PermOperatorsManage: list, create, disable operators, reset
	// passwords.
	PermOperatorsManage Permission = "operators.manage"
	// PermAppsRead: app ids, names and settings (never secrets).
	PermAppsRead Permission = "apps.read"
	// PermAppsWrite: change app settings and callbacks.
	PermAppsWrite Permission = "apps.write"
	// PermPersonalDataRead: endpoints that return personal data; each
	// response is recorded in the audit log first (Audited).
	PermPersonalDataRead Permission = "personal_data.read"
	// PermAuditRead: the audit log, checkpoints and proofs.
	PermAuditRead Permission = "audit.read"
	// PermRetentionRead: each store's oldest record against its limit.
	PermRetentionRead Permission = "retention.read"
	// PermIncidentsRead: declared incidents and their notification
	// state (codes and counts, no personal data).
	PermIncidentsRead Permission = "incidents.read"
	// PermIncidentsDeclare: declare an incident and notify apps.
	PermIncidentsDeclare Permission = "incidents.declare"
)

// permissions is the table: permission → roles that have it.
var permissions = map[Permission][]Role{
	PermSession:          {RoleOwner, RoleDeveloper, RoleSupport, RoleAuditor},
	PermOperatorsManage:  {RoleOwner},
	PermAppsRead:         {RoleOwner, RoleDeveloper, RoleSupport, RoleAuditor},
	PermAppsWrite:        {RoleOwner, RoleDeveloper},
	PermPersonalDataRead: {RoleOwner, RoleSupport, RoleAuditor},
	PermAuditRead:        {RoleOwner, RoleAuditor},
	PermRetentionRead:    {RoleOwner, RoleAuditor},
	PermIncidentsRead:    {RoleOwner, RoleDeveloper, RoleSupport, RoleAuditor},
	PermIncidentsDeclare: {RoleOwner},
}

// Permissions lists every permission in a fixed order.
func Permissions() []Permission {
	return []Permission{PermSession, PermOperatorsManage, PermAppsRead, PermAppsWrite,
		PermPersonalDataRead, PermAuditRead, PermRetentionRead, PermIncidentsRead, PermIncidentsDeclare}
}

// RolesWith returns the roles that have p, in Roles order.
func RolesWith(p Permission) []Role { return slices.Clone(permissions[p]) }

// Allows reports whether role r has permission p. An unknown role or
// permission has nothing.
func (r Role) Allows(p Permission) bool { return slices.Contains(permissions[p], r) }

// Check returns nil if r has p, else an error wrapping ErrForbidden that
// names the permission and the roles that have it.
func (r Role) Check(p Permission) error {
	if r.Allows(p) {
		return nil
	}
	return fmt.Errorf("%w: role %s lacks permission %s (granted to: %s)", ErrForbidden, r, p, roleList(RolesWith(p)))
}
