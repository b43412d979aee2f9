package sandbox_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cloudfw"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sas"

	"github.com/opensoar/soar/internal/sandbox"
)

// path walks a decoded JSON value by object keys and array indexes.
func path(t *testing.T, v any, keys ...any) any {
	t.Helper()
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %q: %T is not an object", k, v)
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || len(a) <= k {
				t.Fatalf("at [%d]: %#v is not an array that long", k, v)
			}
			v = a[k]
		}
	}
	return v
}

// TestResponses_JSONTypes checks the wire types the fuzzy SDK decoder would
// hide: wrapped versus flat lists, and numbers sent as strings.
func TestResponses_JSONTypes(t *testing.T) {
	t.Parallel()
	w, err := sandbox.LoadWorld("testdata/world.yaml")
	mustNoErr(t, "LoadWorld", err)
	e := newEnvWorld(t, w, sandbox.Options{})
	tests := []struct {
		name            string
		product, ver    string
		action          string
		query           map[string]string
		at              []any
		wantType        string
		wantStringValue string
	}{
		{"ecs instances wrapped", "Ecs", "2014-05-26", "DescribeInstances", nil, []any{"Instances", "Instance", 0, "InstanceId"}, "string", ""},
		{"ecs total count number", "Ecs", "2014-05-26", "DescribeInstances", nil, []any{"TotalCount"}, "float64", ""},
		{"ecs priority string", "Ecs", "2014-05-26", "DescribeSecurityGroupAttribute", map[string]string{"SecurityGroupId": "sg-uf6demoapp"},
			[]any{"Permissions", "Permission", 0, "Priority"}, "string", "1"},
		{"ecs snapshot size string", "Ecs", "2014-05-26", "DescribeSnapshots", nil, []any{"Snapshots", "Snapshot", 0, "SourceDiskSize"}, "string", "40"},
		{"ecs invocation wrapped", "Ecs", "2014-05-26", "DescribeInvocationResults", nil, []any{"Invocation", "InvocationResults", "InvocationResult"}, "[]interface {}", ""},
		{"ram users wrapped", "Ram", "2015-05-01", "ListUsers", nil, []any{"Users", "User", 0, "UserName"}, "string", ""},
		{"cloudfw total count string", "Cloudfw", "2017-12-07", "DescribeAddressBook", nil, []any{"TotalCount"}, "string", "1"},
		{"cloudfw acls flat", "Cloudfw", "2017-12-07", "DescribeAddressBook", nil, []any{"Acls", 0, "AddressList", 0}, "string", "192.0.2.66/32"},
		{"cloudfw policies flat", "Cloudfw", "2017-12-07", "DescribeControlPolicy", map[string]string{"CurrentPage": "1", "PageSize": "10"},
			[]any{"Policys", 0, "Order"}, "float64", ""},
		{"cloudfw policy total string", "Cloudfw", "2017-12-07", "DescribeControlPolicy", map[string]string{"CurrentPage": "1", "PageSize": "10"},
			[]any{"TotalCount"}, "string", "1"},
		{"sas events flat", "Sas", "2018-12-03", "DescribeSuspEvents", nil, []any{"SuspEvents", 0, "Id"}, "float64", ""},
		{"waf rules flat", "waf-openapi", "2021-10-01", "DescribeDefenseRules", map[string]string{"InstanceId": "waf_v3prepaid_public_cn-demo01"},
			[]any{"Rules", 0, "Config"}, "string", `{"action":"block","remoteAddr":["192.0.2.66"]}`},
		{"ddos web rules flat", "ddoscoo", "2020-01-01", "DescribeWebRules", nil, []any{"WebRules", 0, "BlackList", 0}, "string", "192.0.2.66"},
		{"actiontrail events flat", "Actiontrail", "2020-07-06", "LookupEvents", nil, []any{"Events"}, "[]interface {}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := e.call(t, e.common(tt.product, tt.ver, tt.action, tt.query))
			got := path(t, out, tt.at...)
			if typ := fmt.Sprintf("%T", got); typ != tt.wantType {
				t.Fatalf("%v = %#v (%s), want a %s", tt.at, got, typ, tt.wantType)
			}
			if tt.wantStringValue != "" && got != tt.wantStringValue {
				t.Errorf("%v = %#v, want %q", tt.at, got, tt.wantStringValue)
			}
		})
	}
}

// TestConcurrent_MixedProducts runs readers and writers of every product,
// the control endpoints and the Go API at once; -race checks the locking.
func TestConcurrent_MixedProducts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if err := f(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	ecsC, ramC, sasC, fwC := e.ecs(t), e.ram(t, sandbox.DefaultAccessKeyID, sandbox.DefaultAccessKeySecret), e.sas(t), e.cloudfw(t)
	run(func() error {
		req := ecs.CreateCreateSnapshotRequest()
		req.DiskId = "d-bp1sandboxdb001d"
		_, err := ecsC.CreateSnapshot(req)
		var ok bool
		if err != nil {
			_, ok = err.(interface{ ErrorCode() string })
		}
		if err != nil && !ok {
			return err
		}
		_, err = ecsC.DescribeSnapshots(ecs.CreateDescribeSnapshotsRequest())
		return err
	})
	run(func() error { _, err := ramC.ListUsers(ram.CreateListUsersRequest()); return err })
	run(func() error { _, err := sasC.DescribeSuspEvents(sas.CreateDescribeSuspEventsRequest()); return err })
	run(func() error {
		_, err := fwC.DescribeAddressBook(cloudfw.CreateDescribeAddressBookRequest())
		return err
	})
	run(func() error {
		resp, err := http.Get(e.url + "/_sandbox/state")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	run(func() error {
		_ = e.srv.State()
		_ = e.srv.Calls()
		e.srv.InjectFault(sandbox.Fault{Action: "NoSuchAction"})
		return nil
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(e.srv.Calls()); got != 25 {
		t.Errorf("call log holds %d calls, want 25", got)
	}
}
