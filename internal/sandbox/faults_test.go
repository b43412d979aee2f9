package sandbox_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/internal/sandbox"
)

func TestFaults_CountThenSuccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	e.srv.InjectFault(sandbox.Fault{Action: "StopInstance", Resource: webID, Count: 2, Code: "Throttling.User",
		Message: "Request was denied due to user flow control."})
	c := e.ecs(t)
	stop := func(id string) error {
		req := ecs.CreateStopInstanceRequest()
		req.InstanceId = id
		_, err := c.StopInstance(req)
		return err
	}
	// Another resource is not affected.
	mustNoErr(t, "StopInstance db-01", stop(dbID))
	for i := range 2 {
		se := wantServerError(t, stop(webID), "Throttling.User", 400)
		if se.Message() != "Request was denied due to user flow control." {
			t.Errorf("attempt %d message = %q", i, se.Message())
		}
	}
	mustNoErr(t, "StopInstance web-01 after the fault", stop(webID))
	if inst, _ := e.srv.State().ECS.Instance(webID); inst.Status != "Stopping" {
		t.Errorf("web-01 = %s, want Stopping", inst.Status)
	}
	if f := e.srv.Faults(); len(f) != 0 {
		t.Errorf("faults left = %+v, want none", f)
	}
	var codes []string
	for _, call := range e.srv.Calls() {
		if call.Action == "StopInstance" {
			codes = append(codes, call.Error)
		}
	}
	if diff := cmp.Diff([]string{"", "Throttling.User", "Throttling.User", ""}, codes); diff != "" {
		t.Errorf("call log errors (-want +got):\n%s", diff)
	}
}

func TestFaults_Kinds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	c := e.ecs(t)
	describe := func(timeout time.Duration) error {
		req := ecs.CreateDescribeDisksRequest()
		if timeout > 0 {
			req.SetReadTimeout(timeout)
		}
		_, err := c.DescribeDisks(req)
		return err
	}

	e.srv.InjectFault(sandbox.Fault{Action: "DescribeDisks", Status: 503})
	wantServerError(t, describe(0), "ServiceUnavailable", 503)

	e.srv.InjectFault(sandbox.Fault{Action: "*", Code: "InternalError"})
	wantServerError(t, describe(0), "InternalError", 500)

	e.srv.InjectFault(sandbox.Fault{Action: "DescribeDisks", Kind: sandbox.FaultMalformed})
	var ce *sdkerrors.ClientError
	if err := describe(0); !errors.As(err, &ce) || ce.ErrorCode() != sdkerrors.JsonUnmarshalErrorCode {
		t.Errorf("malformed body error = %v, want ClientError %s", err, sdkerrors.JsonUnmarshalErrorCode)
	}

	e.srv.InjectFault(sandbox.Fault{Action: "DescribeDisks", Delay: 2 * time.Second})
	var ue *url.Error
	if err := describe(100 * time.Millisecond); !errors.As(err, &ue) || !ue.Timeout() {
		t.Errorf("delayed call error = %v (%T), want a *url.Error timeout", err, err)
	}

	e.srv.InjectFault(sandbox.Fault{Action: "DescribeDisks", Kind: sandbox.FaultDrop})
	if err := describe(0); !errors.As(err, &ue) {
		t.Errorf("dropped connection error = %v (%T), want a *url.Error", err, err)
	}

	mustNoErr(t, "DescribeDisks after the faults", describe(0))
}

func TestFaults_Unlimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	e.srv.InjectFault(sandbox.Fault{Action: "DescribeDisks", Count: -1, Code: "Throttling"})
	for range 3 {
		_, err := e.ecs(t).DescribeDisks(ecs.CreateDescribeDisksRequest())
		wantServerError(t, err, "Throttling", 400)
	}
	e.srv.ClearFaults()
	_, err := e.ecs(t).DescribeDisks(ecs.CreateDescribeDisksRequest())
	mustNoErr(t, "DescribeDisks after ClearFaults", err)
}

func TestFaults_OverHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	body := `[{"action":"DescribeDisks","count":1,"code":"Throttling.User"},{"action":"StopInstance","delay":"10ms","kind":"drop"}]`
	resp, err := http.Post(e.url+"/_sandbox/faults", "application/json", strings.NewReader(body))
	mustNoErr(t, "POST faults", err)
	var got []sandbox.Fault
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := []sandbox.Fault{
		{Action: "DescribeDisks", Count: 1, Code: "Throttling.User"},
		{Action: "StopInstance", Count: 1, Delay: 10 * time.Millisecond, Kind: sandbox.FaultDrop},
	}
	if resp.StatusCode != 200 || !cmp.Equal(want, got) {
		t.Fatalf("POST faults = %d %+v, want 200 %+v", resp.StatusCode, got, want)
	}
	_, err = e.ecs(t).DescribeDisks(ecs.CreateDescribeDisksRequest())
	wantServerError(t, err, "Throttling.User", 400)

	bad, err := http.Post(e.url+"/_sandbox/faults", "application/json", strings.NewReader(`{"action":"","kind":"explode"}`))
	mustNoErr(t, "POST bad fault", err)
	bad.Body.Close()
	if bad.StatusCode != 400 {
		t.Errorf("POST invalid fault = %d, want 400", bad.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodDelete, e.url+"/_sandbox/faults", nil)
	del, err := http.DefaultClient.Do(req)
	mustNoErr(t, "DELETE faults", err)
	del.Body.Close()
	if f := e.srv.Faults(); len(f) != 0 {
		t.Errorf("faults after DELETE = %+v", f)
	}
}
