package main

import (
	"go/parser"
	gotoken "go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/interaction-ledger/ledger/"

// TestDependencyDirection enforces DESIGN.md: cmd → adapters → projections, eventstore →
// domain; domain does no I/O and imports only the standard library, uuid and its JSON codec.
func TestDependencyDirection(t *testing.T) {
	root := filepath.Join("..", "..")
	forbidden := map[string][]string{
		"domain":      {"adapters", "projections", "eventstore", "cmd"},
		"projections": {"adapters", "eventstore", "cmd"},
		"eventstore":  {"adapters", "projections", "cmd"},
		"adapters":    {"cmd"},
	}
	domainThirdParty := []string{"github.com/google/uuid"}
	// Package directory (relative to the root) → the extra third-party imports it may use.
	domainExtra := map[string][]string{"domain/contact": {"github.com/nyaruka/phonenumbers"},
		"domain": {"github.com/segmentio/encoding/json"}} // the envelope codec (domain/codec.go)
	domainNoIO := []string{"os", "net", "net/http", "io/ioutil", "database/sql", "go.etcd.io/bbolt"}
	fset := gotoken.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != root || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		top := strings.Split(filepath.ToSlash(rel), "/")[0]
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if own, ok := strings.CutPrefix(p, module); ok {
				for _, bad := range forbidden[top] {
					if own == bad || strings.HasPrefix(own, bad+"/") {
						t.Errorf("%s imports %s: %s must not depend on %s", rel, p, top, bad)
					}
				}
				continue
			}
			if top != "domain" {
				continue
			}
			for _, bad := range domainNoIO {
				if p == bad {
					t.Errorf("%s imports %s: domain does no I/O", rel, p)
				}
			}
			dir := filepath.ToSlash(filepath.Dir(rel))
			if strings.Contains(strings.Split(p, "/")[0], ".") && !contains(domainThirdParty, p) && !contains(domainExtra[dir], p) {
				t.Errorf("%s imports %s: domain imports only the standard library and uuid", rel, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"cmd": true, "domain": true, "projections": true, "eventstore": true, "adapters": true,
		"go.mod": true, "go.sum": true, "Makefile": true, "README.md": true, "LICENSE": true, "bin": true, "data": true}
	ignored := map[string]bool{}
	if gi, err := os.ReadFile(filepath.Join(root, ".gitignore")); err == nil {
		for _, line := range strings.Split(string(gi), "\n") {
			ignored[strings.Trim(strings.TrimSpace(line), "/")] = true
		}
	}
	for _, e := range entries {
		if artefact := strings.HasSuffix(e.Name(), ".test") || strings.HasSuffix(e.Name(), ".prof"); artefact || ignored[e.Name()] {
			continue // build and profile artefacts, ignored by git
		}
		if !strings.HasPrefix(e.Name(), ".") && !allowed[e.Name()] {
			t.Errorf("top level holds %q: the design allows only cmd, domain, projections, eventstore, adapters and the module files", e.Name())
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
