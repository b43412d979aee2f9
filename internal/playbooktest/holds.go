package playbooktest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opensoar/soar/activities"
)

// holds is the hold registry of one case (soar.hold.acquire and
// soar.hold.release): in memory, with the registry's rules. A case runs one
// incident, so it is the last holder of every measure unless two of its
// own steps hold the same one.
type holds struct {
	mu      sync.Mutex
	entries map[string]*holdEntry
}

// holdEntry is one measure: its holders, whether a holder changed the
// target, and the first changer's inverse input.
type holdEntry struct {
	owned   bool
	inverse map[string]any
	holders map[string]time.Time
}

func newHolds() *holds { return &holds{entries: map[string]*holdEntry{}} }

func (h *holds) acquire(_ context.Context, req activities.HoldRequest) (activities.HoldResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entries[req.Key]
	if e == nil {
		e = &holdEntry{holders: map[string]time.Time{}}
		h.entries[req.Key] = e
	}
	e.own(req)
	if until, ok := e.holders[req.Holder]; !ok || (!until.IsZero() && (req.Until.IsZero() || req.Until.After(until))) {
		e.holders[req.Holder] = req.Until
	}
	return activities.HoldResult{Owned: e.owned, Holders: e.others(req.Holder, req.Now)}, nil
}

func (h *holds) release(_ context.Context, req activities.HoldRequest) (activities.HoldResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entries[req.Key]
	if e == nil {
		return activities.HoldResult{Undo: req.Changed, Owned: req.Changed, Inverse: req.Inverse}, nil
	}
	delete(e.holders, req.Holder)
	e.own(req)
	if others := e.others(req.Holder, req.Now); len(others) > 0 {
		return activities.HoldResult{Owned: e.owned, Holders: others}, nil
	}
	delete(h.entries, req.Key)
	res := activities.HoldResult{Undo: e.owned, Owned: e.owned}
	if e.owned {
		res.Inverse = e.inverse
	}
	return res, nil
}

func (e *holdEntry) own(req activities.HoldRequest) {
	if req.Changed {
		if !e.owned {
			e.inverse = req.Inverse
		}
		e.owned = true
	}
}

// others lists the live holds other than holder's, ordered by holder.
func (e *holdEntry) others(holder string, now time.Time) []activities.Hold {
	var out []activities.Hold
	for h, until := range e.holders {
		if h != holder && (until.IsZero() || until.After(now)) {
			out = append(out, activities.Hold{Holder: h, Until: until})
		}
	}
	slices.SortFunc(out, func(a, b activities.Hold) int { return strings.Compare(a.Holder, b.Holder) })
	return out
}
