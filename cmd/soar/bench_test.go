package main

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func TestBenchPlaybookValid(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "playbooks")
	if err := writeBenchPlaybook(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bench-gate.yaml")); err != nil {
		t.Errorf("bench playbook not written: %v", err)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []time.Duration
		want time.Duration
	}{
		{[]time.Duration{time.Second}, time.Second},
		{[]time.Duration{3 * time.Second, time.Second, 2 * time.Second}, 2 * time.Second},
		{[]time.Duration{4 * time.Second, time.Second, 3 * time.Second, 2 * time.Second}, 3 * time.Second},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestReadRSS(t *testing.T) {
	r := readRSS(os.Getpid())
	if runtime.GOOS != "linux" {
		if r.ok {
			t.Errorf("readRSS on %s = %+v, want not ok", runtime.GOOS, r)
		}
		return
	}
	if !r.ok || r.rss <= 0 || r.hwm < r.rss {
		t.Errorf("readRSS(self) = %+v, want a positive RSS and a peak at least as large", r)
	}
	if r := readRSS(-1); r.ok {
		t.Errorf("readRSS(-1) = %+v, want not ok", r)
	}
}
