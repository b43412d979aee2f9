package natspub

import (
	"testing"
	"time"
)

func TestWindowStartAndKey(t *testing.T) {
	tests := []struct {
		action    string
		now       time.Time
		window    time.Duration
		wantStart time.Time
		wantKey   string
	}{
		{"alicloud.ecs.isolate_instance", time.Date(2026, 3, 4, 5, 59, 59, 999, time.UTC), time.Hour,
			time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC), "alicloud.ecs.isolate_instance.3600000.1772600400000"},
		{"alicloud.ecs.isolate_instance", time.Date(2026, 3, 4, 6, 0, 0, 0, time.UTC), time.Hour,
			time.Date(2026, 3, 4, 6, 0, 0, 0, time.UTC), "alicloud.ecs.isolate_instance.3600000.1772604000000"},
		// Windows count from the Unix epoch whatever the zone of now.
		{"*", time.Date(2026, 3, 4, 13, 30, 0, 0, time.FixedZone("CST", 8*3600)), 24 * time.Hour,
			time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), "ALL.86400000.1772582400000"},
		{"odd name*", time.Unix(95, 0), 90 * time.Second, time.Unix(90, 0).UTC(), "odd_name_.90000.90000"},
	}
	for _, tc := range tests {
		start := windowStart(tc.now, tc.window)
		if !start.Equal(tc.wantStart) {
			t.Errorf("windowStart(%v, %v) = %v, want %v", tc.now, tc.window, start, tc.wantStart)
		}
		if got := budgetKey(tc.action, tc.window, start); got != tc.wantKey {
			t.Errorf("budgetKey(%q, %v, %v) = %q, want %q", tc.action, tc.window, start, got, tc.wantKey)
		}
	}
}
