package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/opensoar/soar/internal/playbook"
)

// DefaultDebounce is how long the [Reloader] waits after the last file
// event before reloading: editors write a file in several steps.
const DefaultDebounce = 250 * time.Millisecond

// Reloader keeps a [Matcher] in step with a playbook directory. When a
// file changes, its playbook is parsed and validated again: a valid one
// replaces the old version for new alerts (running incidents keep their
// snapshot); an invalid one is logged with its diagnostics and the last
// good version stays in use; a removed file unloads its playbook. A file
// whose playbook name is already loaded from another file is refused and
// tried again on every rescan, so it loads once the other file is gone or
// renamed its playbook. Every change swaps the matcher's index atomically.
type Reloader struct {
	dir      string
	opts     playbook.Options
	matcher  *Matcher
	log      *slog.Logger
	metrics  *Metrics
	debounce time.Duration

	mu    sync.Mutex
	good  map[string]loaded // by file path: the last good version
	bad   map[string]string // by file path: hash of the invalid content last reported
	clash map[string]string // by file path: hash of the content last refused as a duplicate name
}

type loaded struct {
	hash string
	pb   *playbook.Playbook
}

// NewReloader watches dir for m. opts.Env must be the environment m was
// built with. metrics may be nil.
func NewReloader(dir string, opts playbook.Options, m *Matcher, log *slog.Logger, metrics *Metrics) *Reloader {
	return &Reloader{
		dir: dir, opts: opts, matcher: m, log: log, metrics: metrics, debounce: DefaultDebounce,
		good: map[string]loaded{}, bad: map[string]string{}, clash: map[string]string{},
	}
}

// SetDebounce changes the debounce delay (tests use a short one).
func (r *Reloader) SetDebounce(d time.Duration) { r.debounce = d }

// Reload rescans the directory once and updates the matcher if anything
// changed. It returns the playbooks in use.
//
// Removed files are unloaded before new and changed files are loaded, so
// that a renamed file (a.yaml → b.yaml) is not refused as a duplicate of
// its own old path. A duplicate name is never remembered as invalid: the
// file is parsed again on every rescan until its name is free.
func (r *Reloader) Reload() []*playbook.Playbook {
	r.mu.Lock()
	defer r.mu.Unlock()
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		r.log.Error("read playbook directory: keeping the playbooks in use", "dir", r.dir, "error", err)
		return r.inUse()
	}
	var files []string
	present := map[string]bool{}
	for _, e := range entries {
		// A Kubernetes ConfigMap mounts each key as a symlink (a.yaml →
		// ..data/a.yaml): entries that are not directories are read
		// through their links.
		if !e.IsDir() && playbook.IsPlaybookFile(e.Name()) {
			file := filepath.Join(r.dir, e.Name())
			files = append(files, file)
			present[file] = true
		}
	}
	sort.Strings(files)

	changed := false
	for file, g := range r.good {
		if !present[file] {
			delete(r.good, file)
			r.metrics.reloaded("removed")
			r.log.Info("playbook unloaded: its file is gone", "playbook", g.pb.Name, "file", file)
			changed = true
		}
	}
	for _, m := range []map[string]string{r.bad, r.clash} {
		for file := range m {
			if !present[file] {
				delete(m, file)
			}
		}
	}

	type candidate struct {
		file, hash string
		pb         *playbook.Playbook
	}
	var clashes []candidate
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			r.log.Warn("read playbook: keeping its last good version", "file", file, "error", err)
			continue
		}
		sum := sha256.Sum256(data)
		hash := hex.EncodeToString(sum[:])
		if g, ok := r.good[file]; ok && g.hash == hash {
			delete(r.clash, file)
			continue
		}
		if r.bad[file] == hash {
			continue // already reported
		}
		pb, diags := playbook.Parse(file, data, r.opts)
		if pb == nil || diags.HasErrors() {
			r.bad[file] = hash
			delete(r.clash, file)
			r.metrics.reloaded("invalid")
			r.log.Error("invalid playbook: keeping its last good version", "file", file, "diagnostics", diags.Render())
			continue
		}
		delete(r.bad, file)
		if len(diags) > 0 && r.clash[file] != hash {
			r.log.Warn("playbook has warnings", "file", file, "diagnostics", diags.Render())
		}
		if r.fileOf(pb.Name, file) != "" {
			clashes = append(clashes, candidate{file, hash, pb})
			continue
		}
		r.load(file, hash, pb)
		changed = true
	}
	// A clash may have been freed by a file loaded after it in this scan
	// (the other file now holds another playbook), or be with a version
	// that is itself being replaced: files that swapped names in one edit
	// each clash with the other's old version. Load until nothing moves.
	renamed := map[string]string{} // file → the name its new content gives
	for _, c := range clashes {
		renamed[c.file] = c.pb.Name
	}
	for progress := true; progress; {
		progress = false
		for i, c := range clashes {
			if c.pb == nil {
				continue
			}
			other := r.fileOf(c.pb.Name, c.file)
			if n, ok := renamed[other]; other != "" && (!ok || n == c.pb.Name) {
				continue
			}
			r.load(c.file, c.hash, c.pb)
			delete(renamed, c.file)
			clashes[i].pb = nil
			changed, progress = true, true
		}
	}
	for _, c := range clashes {
		if c.pb == nil {
			continue
		}
		other := r.fileOf(c.pb.Name, c.file)
		if r.clash[c.file] != c.hash {
			r.clash[c.file] = c.hash
			r.metrics.reloaded("invalid")
			r.log.Error("duplicate playbook name: keeping the first; this file is tried again on every rescan",
				"file", c.file, "playbook", c.pb.Name, "first", other)
		}
	}

	pbs := r.inUse()
	if changed {
		for _, err := range r.matcher.Replace(pbs) {
			r.log.Error("playbook left out of matching", "error", err)
		}
	}
	return pbs
}

// load makes pb, read from file with content hash, the good version of
// file.
func (r *Reloader) load(file, hash string, pb *playbook.Playbook) {
	delete(r.clash, file)
	r.good[file] = loaded{hash: hash, pb: pb}
	r.metrics.reloaded("loaded")
	r.log.Info("playbook loaded", "playbook", pb.Name, "file", file, "hash", hash[:12])
}

// fileOf returns the file (other than file) whose good playbook is named
// name.
func (r *Reloader) fileOf(name, file string) string {
	for f, g := range r.good {
		if f != file && g.pb.Name == name {
			return f
		}
	}
	return ""
}

func (r *Reloader) inUse() []*playbook.Playbook {
	out := make([]*playbook.Playbook, 0, len(r.good))
	for _, g := range r.good {
		out = append(out, g.pb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Run loads the directory, then watches it until ctx is cancelled,
// rescanning it the debounce delay after the last event of any kind in the
// directory (see [Reloader.Reload]).
func (r *Reloader) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch playbooks: %w", err)
	}
	defer w.Close()
	if err := w.Add(r.dir); err != nil {
		return fmt.Errorf("watch playbooks %s: %w", r.dir, err)
	}
	r.Reload()
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			// Any event may change a playbook: besides edits of *.yaml
			// files, a Kubernetes ConfigMap update only swaps the hidden
			// ..data symlink to a new ..<timestamp> directory, and the
			// playbook files, symlinks through ..data, never see an event.
			// Reload compares contents, so a spurious rescan is cheap.
			r.log.Debug("playbook directory event", "file", ev.Name, "op", ev.Op.String())
			if timer == nil {
				timer = time.NewTimer(r.debounce)
			} else {
				timer.Reset(r.debounce)
			}
			fire = timer.C
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.log.Warn("playbook watcher", "error", err)
		case <-fire:
			fire = nil
			r.Reload()
		}
	}
}
