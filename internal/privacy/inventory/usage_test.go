package inventory_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-rtc/parley/internal/privacy/disclosure"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
)

const repoRoot = "../../.."

// stringLiterals returns the Go string literals of the non-test .go files
// under dir (relative to the repository root), skipping testdata, hidden
// directories and the skip directories, each with the file that holds it.
func stringLiterals(t *testing.T, dir string, skip ...string) map[string][]string {
	t.Helper()
	root := filepath.Join(repoRoot, dir)
	out := map[string][]string{}
	if _, err := os.Stat(root); err != nil {
		return out // a package that does not exist yet names nothing
	}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			name := d.Name()
			if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			for _, s := range skip {
				if rel == s {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Errorf("parse %s: %v", rel, err)
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					out[s] = append(out[s], rel)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// disclosedIDs returns every element id the disclosure generator emits in
// its JSON form on any platform with every switch and recording on.
func disclosedIDs(t *testing.T, inv *inventory.Inventory) map[string]bool {
	t.Helper()
	cfg := disclosure.AppConfig{SDKAppID: 1, Recording: true, Relay: true, Switches: map[string]bool{}}
	for _, s := range inv.Switches {
		cfg.Switches[s.ID] = true
	}
	out := map[string]bool{}
	for _, p := range inventory.Platforms() {
		b, err := disclosure.Generate(inv, cfg, disclosure.Options{Platform: p, Lang: "en", Format: disclosure.FormatJSON})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range inv.Elements {
			if strings.Contains(string(b), `"id": "`+e.ID+`"`) {
				out[e.ID] = true
			}
		}
	}
	return out
}

// proves COLLECT-1: every declared element is handled somewhere. Each id
// must appear as a string literal in the repository's Go code outside this
// package (the code that sends, stores or discloses it), or be marked
// used_by: [disclosure] and actually be emitted by the disclosure
// generator. An element nobody handles is either dead or handled under
// another name; both break the inventory's promise.
//
// This test fails while the SDK and server code for some elements has not
// landed yet; the failure lists them.
func TestEveryElementIsUsed(t *testing.T) {
	inv := mustDefault(t)
	lits := stringLiterals(t, ".", "internal/privacy/inventory")
	disclosed := disclosedIDs(t, inv)
	var unused []string
	for _, e := range inv.Elements {
		if len(lits[e.ID]) > 0 {
			if e.IsUsedBy(inventory.UsedByDisclosure) {
				t.Logf("%s is marked used_by: [disclosure] but Go code names it now (%s); drop the mark", e.ID, strings.Join(lits[e.ID], ", "))
			}
			continue
		}
		if e.IsUsedBy(inventory.UsedByDisclosure) {
			if !disclosed[e.ID] {
				t.Errorf("%s is marked used_by: [disclosure] but the disclosure generator never emits it", e.ID)
			}
			continue
		}
		unused = append(unused, e.ID)
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		t.Errorf("%d declared elements appear in no Go code outside the inventory (land the code that handles them, or mark them used_by: [disclosure]):\n  %s",
			len(unused), strings.Join(unused, "\n  "))
	}
}

// telemetryID is the shape of a telemetry or device element id.
var telemetryID = regexp.MustCompile(`^(quality|stream|event|device|network|sdk|sensor|feedback|debug)\.[a-z_]+$`)

// proves COLLECT-1: the Go SDK and the telemetry service name no element
// the inventory does not declare.
func TestCodeNamesOnlyDeclaredIDs(t *testing.T) {
	inv := mustDefault(t)
	for _, dir := range []string{"sdk/go", "internal/telemetry"} {
		for lit, files := range stringLiterals(t, dir) {
			if !telemetryID.MatchString(lit) {
				continue
			}
			if _, ok := inv.Element(lit); !ok {
				t.Errorf("%s names %q, which the inventory does not declare", strings.Join(files, ", "), lit)
			}
		}
	}
}
