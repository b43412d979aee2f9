package sandbox_test

import (
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sas"
	"github.com/google/go-cmp/cmp"

	"github.com/opensoar/soar/internal/sandbox"
)

func (e *testEnv) sas(t testing.TB) *sas.Client {
	t.Helper()
	c, err := sas.NewClientWithOptions(region, sdk.NewConfig(),
		credentials.NewAccessKeyCredential(sandbox.DefaultAccessKeyID, sandbox.DefaultAccessKeySecret))
	mustNoErr(t, "sas.NewClientWithOptions", err)
	c.Domain = e.host
	return c
}

func TestSAS_HandleFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	c := e.sas(t)

	// TacticId travels in the form body: the signature covers it and the
	// filter sees it.
	req := sas.CreateDescribeSuspEventsRequest()
	req.TacticId = "TA0002"
	req.Dealed = "N"
	req.PageSize, req.CurrentPage = "20", "1"
	events, err := c.DescribeSuspEvents(req)
	mustNoErr(t, "DescribeSuspEvents", err)
	if events.TotalCount != 1 || len(events.SuspEvents) != 1 || events.SuspEvents[0].Id != 8123452 {
		t.Fatalf("events = %+v, want the reverse shell (8123452)", events.SuspEvents)
	}
	ev := events.SuspEvents[0]
	if ev.InstanceId != webID || ev.EventStatus != 1 || len(ev.Details) != 4 || len(ev.TacticItems) != 1 ||
		ev.Stages != `["execution"]` || ev.OccurrenceTimeStamp == 0 {
		t.Errorf("event = %+v, want web-01, pending, 4 details, one tactic", ev)
	}

	ops := sas.CreateDescribeSecurityEventOperationsRequest()
	ops.SecurityEventId = "8123452"
	opsResp, err := c.DescribeSecurityEventOperations(ops)
	mustNoErr(t, "DescribeSecurityEventOperations", err)
	can := map[string]bool{}
	for _, op := range opsResp.SecurityEventOperationsResponse {
		can[op.OperationCode] = op.UserCanOperate
	}
	if !can["offline_handled"] || !can["kill_and_quara"] {
		t.Fatalf("operations = %v, want offline_handled and kill_and_quara allowed", can)
	}

	handle := sas.CreateHandleSecurityEventsRequest()
	handle.OperationCode = "kill_and_quara"
	handle.OperationParams = `{"subOperation":"killAndQuaraFileByMd5andPath"}`
	handle.SecurityEventIds = &[]string{"8123452"}
	h, err := c.HandleSecurityEvents(handle)
	mustNoErr(t, "HandleSecurityEvents", err)
	taskID := h.HandleSecurityEventsResponseItem.TaskId
	if taskID == 0 {
		t.Fatal("TaskId is 0")
	}
	var statuses []string
	for range 2 {
		st := sas.CreateDescribeSecurityEventOperationStatusRequest()
		st.TaskId = requests.NewInteger64(taskID)
		resp, err := c.DescribeSecurityEventOperationStatus(st)
		mustNoErr(t, "DescribeSecurityEventOperationStatus", err)
		r := resp.SecurityEventOperationStatusResponse
		statuses = append(statuses, r.TaskStatus+"/"+r.SecurityEventOperationStatuses[0].Status)
	}
	if diff := cmp.Diff([]string{"Processing/Processing", "Success/Success"}, statuses); diff != "" {
		t.Errorf("task statuses (-want +got):\n%s", diff)
	}
	got, _ := e.srv.State().SAS.Event(8123452)
	if got.Status != 32 || got.OperateErrorCode != "kill_and_quara.Success" {
		t.Errorf("event = status %d code %q, want 32 kill_and_quara.Success", got.Status, got.OperateErrorCode)
	}

	// Handling it again fails per event; an unknown event fails the call.
	again, err := c.HandleSecurityEvents(handle)
	mustNoErr(t, "HandleSecurityEvents again", err)
	task, _ := e.srv.State().SAS.Task(again.HandleSecurityEventsResponseItem.TaskId)
	if task.Events[0].Status != "Failure" || task.Events[0].ErrorCode != "kill_and_quara.EventAlreadyHandled" {
		t.Errorf("repeat task = %+v, want the event refused as already handled", task)
	}
	handle.SecurityEventIds = &[]string{"1"}
	_, err = c.HandleSecurityEvents(handle)
	wantServerError(t, err, "InvalidSecurityEventId.NotFound", 404)
}

func TestSAS_ScriptedFailure(t *testing.T) {
	t.Parallel()
	w, err := sandbox.LoadWorld("testdata/world.yaml")
	mustNoErr(t, "LoadWorld", err)
	e := newEnvWorld(t, w, sandbox.Options{AsyncPolls: -1})
	handle := sas.CreateHandleSecurityEventsRequest()
	handle.OperationCode = "offline_handled"
	handle.SecurityEventIds = &[]string{"9000001", "9000002"}
	h, err := e.sas(t).HandleSecurityEvents(handle)
	mustNoErr(t, "HandleSecurityEvents", err)
	task, _ := e.srv.State().SAS.Task(h.HandleSecurityEventsResponseItem.TaskId)
	want := []sandbox.SASTaskResult{
		{EventID: 9000001, Status: "Success"},
		{EventID: 9000002, Status: "Failure", ErrorCode: "kill_and_quara.ProcessNotExist"},
	}
	if diff := cmp.Diff(want, task.Events); diff != "" || task.Status != "Failure" {
		t.Errorf("task %s events (-want +got):\n%s", task.Status, diff)
	}
}
