package operator

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// proves SEC-2: the permission table is the one docs/operators.md
// documents, and only owner, support and auditor read personal data.
func TestPermissionTable(t *testing.T) {
	want := map[Permission]string{
		PermSession:          "owner developer support auditor",
		PermOperatorsManage:  "owner",
		PermAppsRead:         "owner developer support auditor",
		PermAppsWrite:        "owner developer",
		PermPersonalDataRead: "owner support auditor",
		PermAuditRead:        "owner auditor",
		PermRetentionRead:    "owner auditor",
		PermIncidentsRead:    "owner developer support auditor",
		PermIncidentsDeclare: "owner",
	}
	if len(Permissions()) != len(want) {
		t.Fatalf("%d permissions, test knows %d", len(Permissions()), len(want))
	}
	for _, p := range Permissions() {
		var got []string
		for _, r := range Roles() {
			if r.Allows(p) {
				got = append(got, string(r))
			}
		}
		if strings.Join(got, " ") != want[p] {
			t.Errorf("%s: %v, want %s", p, got, want[p])
		}
	}
	if RoleDeveloper.Allows(PermPersonalDataRead) {
		t.Error("developer reads personal data")
	}
	if Role("root").Allows(PermSession) || RoleOwner.Allows("nothing") {
		t.Error("unknown role or permission allowed")
	}
	err := RoleSupport.Check(PermAppsWrite)
	if !errors.Is(err, ErrForbidden) || err.Error() != "operator: forbidden: role support lacks permission apps.write (granted to: owner, developer)" {
		t.Errorf("message: %v", err)
	}
	if _, err := ParseRole("admin"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "owner, developer, support, auditor") {
		t.Errorf("parse: %v", err)
	}
}

// The documented table lists every permission with its roles.
func TestPermissionTableDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operators.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Permissions() {
		row := "| `" + string(p) + "` |"
		i := strings.Index(string(doc), row)
		if i < 0 {
			t.Errorf("docs/operators.md has no row %q", row)
			continue
		}
		line, _, _ := strings.Cut(string(doc[i:]), "\n")
		cells := strings.Split(line, "|")
		// | perm | owner | developer | support | auditor | what |
		if len(cells) < 7 {
			t.Errorf("row %q: want perm, four role columns, description", line)
			continue
		}
		for j, r := range Roles() {
			marked := strings.TrimSpace(cells[2+j]) == "✓"
			if marked != r.Allows(p) {
				t.Errorf("docs/operators.md: %s for %s says %q, code allows=%v", p, r, strings.TrimSpace(cells[2+j]), r.Allows(p))
			}
		}
	}
}
