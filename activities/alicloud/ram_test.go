package alicloud

import (
	"testing"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/guard"
	"github.com/opensoar/soar/internal/sandbox"
)

func ramRevertCases() []revertCase {
	check := func(t *testing.T, st sandbox.State, out map[string]any) {
		k, owner, _ := st.RAM.AccessKey(aliceKey)
		if k.Status != "Inactive" || owner != "alice" {
			t.Errorf("alice's key = %s (owner %s), want Inactive", k.Status, owner)
		}
		if out["previous_status"] != "Active" || out["status"] != "Inactive" || out["user_name"] != "alice" {
			t.Errorf("output = %v, want alice Active → Inactive", out)
		}
	}
	return []revertCase{
		{
			name: "ram disable access key (owner looked up)", action: activities.RAMDisableAccessKey,
			in:    func(m activities.Meta) any { return activities.RAMAccessKeyInput{Meta: m, AccessKeyID: aliceKey} },
			check: check, varyOnRepeat: []string{"previous_status"},
		},
		{
			name: "ram disable access key of a named user", action: activities.RAMDisableAccessKey,
			in: func(m activities.Meta) any {
				return activities.RAMAccessKeyInput{Meta: m, AccessKeyID: aliceKey, UserName: "alice"}
			},
			check: check, varyOnRepeat: []string{"previous_status"},
		},
	}
}

func TestRAMRefusesOwnKeys(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want string
	}{
		{"the engine's key", sandbox.DefaultAccessKeyID, "own_access_key"},
		{"an STS key", "STS.NUgYrLnoC37mZZCNnAbez2xUa", "temporary STS key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCloud(t)
			s0 := c.state()
			n := c.callCount()
			err := c.run(activities.RAMDisableAccessKey, activities.RAMAccessKeyInput{Meta: meta("k"), AccessKeyID: tt.key}, nil)
			errType := activities.ErrTypeGuardDenied
			if tt.want == "temporary STS key" {
				errType = activities.ErrTypeInvalidInput
			}
			wantAppError(t, err, errType, tt.want)
			if m := c.mutatingCalls(n); len(m) > 0 {
				t.Errorf("refused disable made mutating calls %v", m)
			}
			if diff := stateDiff(s0, c.state()); diff != "" {
				t.Errorf("refused disable changed the state:\n%s", diff)
			}
		})
	}
}

// TestRAMOwnKeysWithoutGuard: even a guard that does not list the engine's
// key cannot make the action disable it.
func TestRAMOwnKeysWithoutGuard(t *testing.T) {
	c := newTestCloud(t)
	bare, err := guard.New(guard.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Accounts: c.acts.accounts, DefaultAccount: "default", Getenv: c.acts.getenv, Guard: bare})
	if err != nil {
		t.Fatal(err)
	}
	env := testSuite().NewTestActivityEnvironment()
	a.Register(env)
	err = runIn(env, activities.RAMDisableAccessKey, activities.RAMAccessKeyInput{Meta: meta("k"), AccessKeyID: sandbox.DefaultAccessKeyID, UserName: "soar-engine"}, nil)
	wantAppError(t, err, activities.ErrTypeGuardDenied, "own_access_key")
	if k, _, _ := c.state().RAM.AccessKey(sandbox.DefaultAccessKeyID); k.Status != "Active" {
		t.Errorf("the engine's key is %s, want Active", k.Status)
	}
}

func TestRAMErrors(t *testing.T) {
	c := newTestCloud(t)
	err := c.run(activities.RAMDisableAccessKey, activities.RAMAccessKeyInput{Meta: meta("k"), AccessKeyID: "LTAI5tNoSuchKey", UserName: "alice"}, nil)
	wantAppError(t, err, activities.ErrTypeCloudNotFound, "LTAI5tNoSuchKey")
	err = c.run(activities.RAMDisableAccessKey, activities.RAMAccessKeyInput{Meta: meta("k"), AccessKeyID: aliceKey, UserName: "mallory"}, nil)
	wantAppError(t, err, activities.ErrTypeCloudNotFound, "EntityNotExist.User", "request")
	err = c.run(activities.RAMDisableAccessKey, activities.RAMAccessKeyInput{Meta: meta("k"), AccessKeyID: "LTAI5tNoSuchKey"}, nil)
	wantAppError(t, err, activities.ErrTypeCloudNotFound, "belongs to no RAM user")
}
