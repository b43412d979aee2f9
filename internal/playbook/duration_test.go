package playbook_test

import (
	"testing"
	"time"

	"github.com/opensoar/soar/internal/playbook"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"30s", 30 * time.Second, false},
		{"1h30m", 90 * time.Minute, false},
		{"500ms", 500 * time.Millisecond, false},
		{"7d", 7 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"1.5d", 36 * time.Hour, false},
		{"0s", 0, false},
		{" 24h ", 24 * time.Hour, false},
		{"90", 0, true},
		{"-1h", 0, true},
		{"1w", 0, true},
		{"5 minutes", 0, true},
		{"", 0, true},
		{"d", 0, true},
		{"100000000000d", 0, true},
	}
	for _, tt := range tests {
		got, err := playbook.ParseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		72 * time.Hour:   "3d",
		90 * time.Minute: "1h30m",
		2 * time.Hour:    "2h",
		90 * time.Second: "1m30s",
		time.Second:      "1s",
	} {
		if got := playbook.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
