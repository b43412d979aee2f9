package sandbox_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/opensoar/soar/internal/sandbox"
)

func (e *testEnv) trail(t testing.TB) *actiontrail.Client {
	t.Helper()
	c, err := actiontrail.NewClientWithOptions(region, sdk.NewConfig(),
		credentials.NewAccessKeyCredential(sandbox.DefaultAccessKeyID, sandbox.DefaultAccessKeySecret))
	mustNoErr(t, "actiontrail.NewClientWithOptions", err)
	c.Domain = e.host
	return c
}

func lookup(t *testing.T, c *actiontrail.Client, key, value, maxResults, next string) *actiontrail.LookupEventsResponse {
	t.Helper()
	req := actiontrail.CreateLookupEventsRequest()
	if key != "" {
		req.LookupAttribute = &[]actiontrail.LookupEventsLookupAttribute{{Key: key, Value: value}}
	}
	req.StartTime = time.Now().Add(-72 * time.Hour).UTC().Format("2006-01-02T15:04:05Z")
	req.MaxResults, req.NextToken = maxResults, next
	resp, err := c.LookupEvents(req)
	mustNoErr(t, "LookupEvents", err)
	return resp
}

func TestActionTrail_LeakedKeyTrail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	// The attacker uses alice's key through the sandbox from 203.0.113.7.
	alice := e.ecsAs(t, aliceKey, aliceSec)
	alice.SetTransport(rewrite(func(r *http.Request) { r.Header.Set("X-Forwarded-For", "203.0.113.7") }))
	stop := ecs.CreateStopInstanceRequest()
	stop.InstanceId = dbID
	_, err := alice.StopInstance(stop)
	mustNoErr(t, "StopInstance as alice", err)

	resp := lookup(t, e.trail(t), "EventAccessKeyId", aliceKey, "50", "")
	var names []string
	for _, ev := range resp.Events {
		names = append(names, ev["eventName"].(string))
		if ev["sourceIpAddress"] != "203.0.113.7" {
			t.Errorf("event %v from %v, want 203.0.113.7", ev["eventName"], ev["sourceIpAddress"])
		}
		if id := ev["userIdentity"].(map[string]any); id["accessKeyId"] != aliceKey || id["userName"] != "alice" {
			t.Errorf("event %v identity = %v, want alice's key", ev["eventName"], id)
		}
	}
	want := []string{"StopInstance", "AuthorizeSecurityGroup", "RunCommand", "CreateUser", "ListUsers", "DescribeInstances", "GetCallerIdentity"}
	if !slices.Equal(names, want) {
		t.Errorf("events newest first = %v, want %v", names, want)
	}
	first := resp.Events[0]
	if res := first["referencedResources"].(map[string]any); res["ACS::ECS::Instance"].([]any)[0] != dbID ||
		first["eventRW"] != "Write" || first["serviceName"] != "Ecs" {
		t.Errorf("synthetic event = %v, want a Write on db-01", first)
	}

	byInstance := lookup(t, e.trail(t), "ResourceName", webID, "", "")
	if len(byInstance.Events) != 1 || byInstance.Events[0]["eventName"] != "RunCommand" {
		t.Errorf("events on web-01 = %v, want the seeded RunCommand", byInstance.Events)
	}

	page := lookup(t, e.trail(t), "EventAccessKeyId", aliceKey, "3", "")
	next := lookup(t, e.trail(t), "EventAccessKeyId", aliceKey, "3", page.NextToken)
	if len(page.Events) != 3 || page.NextToken == "" || next.Events[0]["eventName"] != "CreateUser" {
		t.Errorf("paging: %d events, token %q, next starts with %v", len(page.Events), page.NextToken, next.Events[0]["eventName"])
	}
}

func TestActionTrail_Errors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	c := e.trail(t)
	req := actiontrail.CreateLookupEventsRequest()
	req.LookupAttribute = &[]actiontrail.LookupEventsLookupAttribute{{Key: "EventName", Value: "A"}, {Key: "User", Value: "alice"}}
	_, err := c.LookupEvents(req)
	wantServerError(t, err, "InvalidParameter.LookupAttribute", 400)
	req.LookupAttribute = &[]actiontrail.LookupEventsLookupAttribute{{Key: "SourceIpAddress", Value: "203.0.113.7"}}
	_, err = c.LookupEvents(req)
	wantServerError(t, err, "InvalidParameter.LookupAttribute", 400)
	req = actiontrail.CreateLookupEventsRequest()
	req.MaxResults = "51"
	_, err = c.LookupEvents(req)
	wantServerError(t, err, "InvalidParameter.MaxResults", 400)
}
