package natspub

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/opensoar/soar/activities"
)

// MemoryHolds is the hold registry kept in memory: the rules of
// [Activities.AcquireHold] and [Activities.ReleaseHold] without the
// KeyValue bucket, for offline playbook tests (soar test), where one
// process runs every incident. Safe for concurrent use.
type MemoryHolds struct {
	mu      sync.Mutex
	entries map[string]*holdEntry
}

// NewMemoryHolds returns an empty in-memory registry.
func NewMemoryHolds() *MemoryHolds {
	return &MemoryHolds{entries: map[string]*holdEntry{}}
}

// Acquire is soar.hold.acquire on the in-memory registry.
func (m *MemoryHolds) Acquire(_ context.Context, req activities.HoldRequest) (activities.HoldResult, error) {
	return m.update("acquire", req, acquireRule(req))
}

// Release is soar.hold.release on the in-memory registry.
func (m *MemoryHolds) Release(_ context.Context, req activities.HoldRequest) (activities.HoldResult, error) {
	return m.update("release", req, releaseRule(req))
}

func (m *MemoryHolds) update(op string, req activities.HoldRequest, rule holdRule) (activities.HoldResult, error) {
	if err := checkHoldRequest(op, req); err != nil {
		return activities.HoldResult{}, err
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// The rule works on a copy, as on an entry read from the bucket: what
	// it does not ask to write is not kept.
	var e holdEntry
	stored, found := m.entries[req.Key]
	if found {
		e = *stored
		e.Holds = maps.Clone(stored.Holds)
	}
	res, write := rule(&e, found, now)
	if write {
		m.entries[req.Key] = &e
	}
	return res, nil
}
