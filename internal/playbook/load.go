package playbook

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/expr"
)

// FileDiagnostics are the diagnostics of one file.
type FileDiagnostics struct {
	File        string      `json:"file"`
	Diagnostics Diagnostics `json:"diagnostics"`
}

// Set is a set of loaded playbooks with unique names. It is immutable once
// loaded and safe for concurrent use.
type Set struct {
	byName map[string]*Playbook
}

// Playbooks returns the playbooks sorted by name.
func (s *Set) Playbooks() []*Playbook {
	if s == nil {
		return nil
	}
	out := make([]*Playbook, 0, len(s.byName))
	for _, p := range s.byName {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get returns the playbook called name.
func (s *Set) Get(name string) (*Playbook, bool) {
	if s == nil {
		return nil, false
	}
	p, ok := s.byName[name]
	return p, ok
}

// Len returns the number of playbooks.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.byName)
}

// IsPlaybookFile reports whether a file name is a playbook: *.yaml or
// *.yml, except playbook tests (*.test.yaml, *.test.yml) and hidden files.
func IsPlaybookFile(name string) bool {
	base := path.Base(filepath.ToSlash(name))
	if strings.HasPrefix(base, ".") {
		return false
	}
	for _, ext := range []string{".yaml", ".yml"} {
		if strings.HasSuffix(base, ext) {
			return !strings.HasSuffix(base, ".test"+ext)
		}
	}
	return false
}

// isTestFile reports whether name is a playbook test (*.test.yaml).
func isTestFile(name string) bool {
	base := filepath.Base(name)
	return strings.HasSuffix(base, ".test.yaml") || strings.HasSuffix(base, ".test.yml")
}

// LoadDir loads every playbook file (see [IsPlaybookFile]) directly in dir
// of fsys, in name order. Valid playbooks are loaded; every file with
// diagnostics (errors or warnings) is reported, with positions naming
// path.Join(dir, file). A playbook whose name another file already used is
// an error on the later file, which is not loaded. If the directory cannot
// be read, it is reported as a read-error of dir.
func LoadDir(fsys fs.FS, dir string, opts Options) (*Set, []FileDiagnostics) {
	l, ok := newLoader(opts)
	if !ok {
		return l.set, l.reports
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		l.report(dir, Diagnostics{readError(dir, err)})
		return l.set, l.reports
	}
	for _, e := range entries {
		if e.IsDir() || !IsPlaybookFile(e.Name()) {
			continue
		}
		file := path.Join(dir, e.Name())
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			l.report(file, Diagnostics{readError(file, err)})
			continue
		}
		l.add(file, data)
	}
	return l.set, l.reports
}

// LoadPaths loads playbooks from the operating system's files: each path
// is a playbook file or a directory whose playbook files are loaded as by
// [LoadDir]. Names must be unique across all paths. Playbook tests
// (*.test.yaml) named explicitly are skipped too.
func LoadPaths(paths []string, opts Options) (*Set, []FileDiagnostics) {
	l, ok := newLoader(opts)
	if !ok {
		return l.set, l.reports
	}
	seen := map[string]bool{}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			l.report(p, Diagnostics{readError(p, err)})
			continue
		}
		var files []string
		if info.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				l.report(p, Diagnostics{readError(p, err)})
				continue
			}
			for _, e := range entries {
				if !e.IsDir() && IsPlaybookFile(e.Name()) {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
		} else if !isTestFile(p) {
			files = append(files, p)
		}
		for _, f := range files {
			if seen[filepath.Clean(f)] {
				continue // named twice: a directory and a file in it
			}
			seen[filepath.Clean(f)] = true
			data, err := os.ReadFile(f)
			if err != nil {
				l.report(f, Diagnostics{readError(f, err)})
				continue
			}
			l.add(f, data)
		}
	}
	return l.set, l.reports
}

// loader accumulates a Set and the reports of its files.
type loader struct {
	opts    Options
	set     *Set
	files   map[string]string // playbook name → file
	reports []FileDiagnostics
}

func newLoader(opts Options) (*loader, bool) {
	l := &loader{opts: opts, set: &Set{byName: map[string]*Playbook{}}, files: map[string]string{}}
	if l.opts.Env == nil {
		env, err := expr.NewEnv(expr.Options{})
		if err != nil {
			l.report("", Diagnostics{{Code: CodeReadError, Message: fmt.Sprintf("build the expression environment: %v", err)}})
			return l, false
		}
		l.opts.Env = env
	}
	if l.opts.Actions == nil {
		l.opts.Actions = Catalog(activities.Catalog())
	}
	return l, true
}

func (l *loader) add(file string, data []byte) {
	pb, diags, namePos := parse(file, data, l.opts)
	if pb != nil {
		if first, dup := l.files[pb.Name]; dup {
			src := newSource(file, data)
			diags = sortDiagnostics(append(diags, Diagnostic{Pos: namePos, Code: CodeDuplicateName, Severity: SeverityError,
				Message:    fmt.Sprintf("playbook name %q is already used by %s: names must be unique", pb.Name, first),
				SourceLine: src.line(namePos.Line)}))
			pb = nil
		} else {
			l.files[pb.Name] = file
			l.set.byName[pb.Name] = pb
		}
	}
	l.report(file, diags)
}

func (l *loader) report(file string, diags Diagnostics) {
	if len(diags) > 0 {
		l.reports = append(l.reports, FileDiagnostics{File: file, Diagnostics: diags})
	}
}
