// Package playbooks holds the playbooks shipped with soar, embedded in the
// binary as the default set (used when soar.yaml names no directory), and
// their JSON Schema (schema.json) for editors.
package playbooks

import (
	"embed"
	"io/fs"
)

// files are the shipped playbooks and their tests (*.test.yaml, which
// playbook.LoadDir skips).
//
//go:embed *.yaml
var files embed.FS

// FS returns the shipped playbooks and their tests, at the root of the
// file system: load them with playbook.LoadDir(playbooks.FS(), ".", opts).
func FS() fs.FS { return files }
