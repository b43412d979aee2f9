package sandbox

import (
	"fmt"
	"strconv"
	"strings"
)

// pager is the page of a listing a request asks for, by PageNumber and
// PageSize or by MaxResults and NextToken.
type pager struct {
	tokenMode bool
	number    int
	size      int
	start     int
}

// pageOf reads the paging parameters; sizes default to def and may not
// exceed max.
func pageOf(p params, def, max int) (pager, error) {
	if p.get("NextToken") != "" || p.get("MaxResults") != "" {
		size, err := p.integerIn("MaxResults", def, 1, max)
		if err != nil {
			return pager{}, err
		}
		start := 0
		if t := p.get("NextToken"); t != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(t, "sbx-"))
			if err != nil || n < 0 {
				return pager{}, errBadRequest("InvalidNextToken.Malformed", "The specified NextToken is invalid.")
			}
			start = n
		}
		return pager{tokenMode: true, size: size, start: start}, nil
	}
	number, err := p.integerIn("PageNumber", 1, 1, 1<<30)
	if err != nil {
		return pager{}, err
	}
	size, err := p.integerIn("PageSize", def, 1, max)
	if err != nil {
		return pager{}, err
	}
	return pager{number: number, size: size, start: (number - 1) * size}, nil
}

// bounds returns the slice bounds of the page in a listing of total items.
func (pg pager) bounds(total int) (lo, hi int) {
	lo = min(pg.start, total)
	hi = min(lo+pg.size, total)
	return lo, hi
}

// next returns the NextToken after the page, "" at the end.
func (pg pager) next(total int) string {
	if _, hi := pg.bounds(total); hi < total {
		return fmt.Sprintf("sbx-%d", hi)
	}
	return ""
}

// meta returns the paging fields of an ECS-style listing.
func (pg pager) meta(total int) obj {
	m := obj{"TotalCount": total, "NextToken": pg.next(total)}
	if !pg.tokenMode {
		m["PageNumber"] = pg.number
		m["PageSize"] = pg.size
	} else {
		m["MaxResults"] = pg.size
	}
	return m
}

// pageSlice returns the page of items.
func pageSlice[T any](pg pager, items []T) []T {
	lo, hi := pg.bounds(len(items))
	return items[lo:hi]
}
