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
// good version stays in use; a removed file unloads its playbook. Every
// change swaps the matcher's index atomically.
type Reloader struct {
	dir      string
	opts     playbook.Options
	matcher  *Matcher
	log      *slog.Logger
	metrics  *Metrics
	debounce time.Duration

	mu   sync.Mutex
	good map[string]loaded // by file path: the last good version
	bad  map[string]string // by file path: hash of the invalid content last reported
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
		good: map[string]loaded{}, bad: map[string]string{},
	}
}

// SetDebounce changes the debounce delay (tests use a short one).
func (r *Reloader) SetDebounce(d time.Duration) { r.debounce = d }

// Reload rescans the directory once and updates the matcher if anything
// changed. It returns the playbooks in use.
func (r *Reloader) Reload() []*playbook.Playbook {
	r.mu.Lock()
	defer r.mu.Unlock()
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		r.log.Error("read playbook directory: keeping the playbooks in use", "dir", r.dir, "error", err)
		return r.inUse()
	}
	changed := false
	present := map[string]bool{}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && playbook.IsPlaybookFile(e.Name()) {
			files = append(files, filepath.Join(r.dir, e.Name()))
		}
	}
	sort.Strings(files)
	for _, file := range files {
		present[file] = true
		data, err := os.ReadFile(file)
		if err != nil {
			r.log.Warn("read playbook: keeping its last good version", "file", file, "error", err)
			continue
		}
		sum := sha256.Sum256(data)
		hash := hex.EncodeToString(sum[:])
		if g, ok := r.good[file]; ok && g.hash == hash {
			continue
		}
		if r.bad[file] == hash {
			continue // already reported
		}
		pb, diags := playbook.Parse(file, data, r.opts)
		if pb == nil || diags.HasErrors() {
			r.bad[file] = hash
			r.metrics.reloaded("invalid")
			r.log.Error("invalid playbook: keeping its last good version", "file", file, "diagnostics", diags.Render())
			continue
		}
		if other := r.fileOf(pb.Name, file); other != "" {
			r.bad[file] = hash
			r.metrics.reloaded("invalid")
			r.log.Error("duplicate playbook name: keeping the first", "file", file, "playbook", pb.Name, "first", other)
			continue
		}
		delete(r.bad, file)
		if len(diags) > 0 {
			r.log.Warn("playbook has warnings", "file", file, "diagnostics", diags.Render())
		}
		r.good[file] = loaded{hash: hash, pb: pb}
		r.metrics.reloaded("loaded")
		r.log.Info("playbook loaded", "playbook", pb.Name, "file", file, "hash", hash[:12])
		changed = true
	}
	for file, g := range r.good {
		if !present[file] {
			delete(r.good, file)
			r.metrics.reloaded("removed")
			r.log.Info("playbook unloaded: its file is gone", "playbook", g.pb.Name, "file", file)
			changed = true
		}
	}
	for file := range r.bad {
		if !present[file] {
			delete(r.bad, file)
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
// reloading DefaultDebounce after the last change.
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
			if !playbook.IsPlaybookFile(ev.Name) {
				continue
			}
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
