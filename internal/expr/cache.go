package expr

import (
	"container/list"
	"sync"
)

// cacheKey identifies a compiled expression.
type cacheKey struct {
	scope Scope
	src   string
}

// lru is a bounded, concurrency-safe least-recently-used cache of compiled
// expressions.
type lru struct {
	mu    sync.Mutex
	max   int
	order *list.List // front is most recently used; values are *lruEntry
	items map[cacheKey]*list.Element
}

type lruEntry struct {
	key cacheKey
	val *compiled
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), items: make(map[cacheKey]*list.Element)}
}

func (c *lru) get(k cacheKey) (*compiled, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry).val, true
}

// add stores v under k and returns the value now cached under k: v, or the
// one another goroutine stored first, so that callers share one program.
func (c *lru) add(k cacheKey, v *compiled) *compiled {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*lruEntry).val
	}
	c.items[k] = c.order.PushFront(&lruEntry{key: k, val: v})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruEntry).key)
	}
	return v
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
