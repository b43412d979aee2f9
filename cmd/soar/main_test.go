package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUnknownNameSuggestions pins the "did you mean" of the command line:
// a typo of a command or an action name is answered with the nearest
// name, something unlike every name with none.
func TestUnknownNameSuggestions(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"wroker"}, `unknown command "wroker" (did you mean "worker"?); run 'soar help' for the list`},
		{[]string{"valdate"}, `unknown command "valdate" (did you mean "validate"?); run 'soar help' for the list`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"; run 'soar help' for the list`},
		{[]string{"actions", "alicloud.waf.blockip"}, `unknown action "alicloud.waf.blockip" (did you mean "alicloud.waf.block_ip"?)`},
		{[]string{"actions", "nothing.like.it"}, `unknown action "nothing.like.it"`},
		{[]string{"actions", "waf.block_ip"}, `unknown action "waf.block_ip" (did you mean "alicloud.waf.block_ip"?)`},
		{[]string{"actions", "block_ip"}, `unknown action "block_ip" (did you mean one of "alicloud.cloudfw.block_ip", "alicloud.ecs.block_ip", "alicloud.waf.block_ip"?)`},
	}
	for _, tt := range tests {
		_, errOut, code := soarIn(t, "", tt.args...)
		if code != -1 {
			t.Errorf("soar %v: exit %d, want an error", tt.args, code)
		}
		if diff := cmp.Diff(tt.want, errOut); diff != "" {
			t.Errorf("soar %v: error (-want +got):\n%s", tt.args, diff)
		}
	}
}

// TestNoArgumentCommands checks that the commands without positional
// arguments refuse one before they start anything.
func TestNoArgumentCommands(t *testing.T) {
	for _, name := range []string{"ingest", "worker", "sandbox", "dev", "bench"} {
		_, errOut, code := soarIn(t, "", name, "extra", "args")
		want := "soar " + name + ": takes no arguments, got extra args\nRun 'soar " + name + " --help' for usage.\n"
		if code != 2 || errOut != want {
			t.Errorf("soar %s extra: exit %d, error %q; want %q", name, code, errOut, want)
		}
	}
}

// TestMissingArguments checks that a command missing its positional
// arguments says which, points at --help and exits 2.
func TestMissingArguments(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"approve", "compromised-host.i-1"}, "soar approve: approve needs INCIDENT and STEP, got 1 argument(s); e.g. soar approve compromised-host.i-bp1sandboxweb01 isolate --by analyst\nRun 'soar approve --help' for usage.\n"},
		{[]string{"incidents", "show"}, "soar incidents: show needs an incident ID (the workflow ID that soar incidents lists)\nRun 'soar incidents --help' for usage.\n"},
		{[]string{"incidents", "list", "all"}, "soar incidents: unexpected arguments [\"list\" \"all\"]: use soar incidents [flags] or soar incidents show ID\nRun 'soar incidents --help' for usage.\n"},
		{[]string{"bench", "--runs", "0"}, "soar bench: --runs must be at least 1, got 0\nRun 'soar bench --help' for usage.\n"},
	}
	for _, tt := range tests {
		_, errOut, code := soarIn(t, "", tt.args...)
		if code != 2 {
			t.Errorf("soar %v: exit %d, want 2", tt.args, code)
		}
		if diff := cmp.Diff(tt.want, errOut); diff != "" {
			t.Errorf("soar %v: stderr (-want +got):\n%s", tt.args, diff)
		}
	}
}
