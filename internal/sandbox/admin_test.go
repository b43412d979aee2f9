package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/opensoar/soar/internal/sandbox"
)

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	mustNoErr(t, "GET "+url, err)
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decode: %v", url, err)
	}
	return resp.StatusCode
}

func TestAdmin_StateCallsReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	req := ecs.CreateStopInstanceRequest()
	req.InstanceId = webID
	_, err := e.ecs(t).StopInstance(req)
	mustNoErr(t, "StopInstance", err)

	var st sandbox.State
	if code := getJSON(t, e.url+"/_sandbox/state", &st); code != 200 {
		t.Fatalf("GET state = %d", code)
	}
	if inst, _ := st.ECS.Instance(webID); inst.Status != "Stopping" {
		t.Errorf("state web-01 = %s, want Stopping", inst.Status)
	}

	var calls []sandbox.Call
	getJSON(t, e.url+"/_sandbox/calls?action=StopInstance", &calls)
	if len(calls) != 1 {
		t.Fatalf("calls = %+v, want the one StopInstance", calls)
	}
	c := calls[0]
	if _, has := c.Params["Signature"]; has || c.Params["InstanceId"] != webID || !c.Changed ||
		c.Principal != "soar-engine" || c.AccessKeyID != sandbox.DefaultAccessKeyID || c.Version != "2014-05-26" || c.Product != "Ecs" {
		t.Errorf("call = %+v, want StopInstance by soar-engine, changed, no Signature", c)
	}

	resp, err := http.Post(e.url+"/_sandbox/reset", "", nil)
	mustNoErr(t, "POST reset", err)
	resp.Body.Close()
	if inst, _ := e.srv.State().ECS.Instance(webID); inst.Status != "Running" || len(e.srv.Calls()) != 0 {
		t.Errorf("after reset web-01 = %s with %d calls, want Running and none", inst.Status, len(e.srv.Calls()))
	}
}

func TestAdmin_PutState(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	world := `ram: { users: [{ name: soar-engine, id: "1", access_keys: [{ id: sandbox-ak, secret: sandbox-secret }] }] }`
	req, _ := http.NewRequest(http.MethodPut, e.url+"/_sandbox/state", strings.NewReader(world))
	resp, err := http.DefaultClient.Do(req)
	mustNoErr(t, "PUT state", err)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(e.srv.State().ECS.Instances) != 0 {
		t.Fatalf("PUT state = %d with %d instances, want 200 and an empty ECS", resp.StatusCode, len(e.srv.State().ECS.Instances))
	}
	req, _ = http.NewRequest(http.MethodPut, e.url+"/_sandbox/state", strings.NewReader("ecs: { nope: 1 }"))
	resp, err = http.DefaultClient.Do(req)
	mustNoErr(t, "PUT bad state", err)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("PUT invalid world = %d, want 400", resp.StatusCode)
	}
}

func TestAdmin_Webhooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	resp, err := http.Post(e.url+"/_sandbox/webhooks/secops?timestamp=1&sign=x", "application/json",
		strings.NewReader(`{"msgtype":"text","text":{"content":"挂马 on web-01"}}`))
	mustNoErr(t, "POST webhook", err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"errcode": 0`) {
		t.Fatalf("webhook answer = %d %s, want 200 with errcode 0", resp.StatusCode, body)
	}
	_, err = http.Post(e.url+"/_sandbox/webhooks/other", "text/plain", strings.NewReader("plain"))
	mustNoErr(t, "POST webhook", err)

	var got []sandbox.Webhook
	getJSON(t, e.url+"/_sandbox/webhooks?channel=secops", &got)
	if len(got) != 1 || got[0].Channel != "secops" || got[0].Query != "timestamp=1&sign=x" ||
		!strings.Contains(got[0].Body, "挂马") || got[0].JSON == nil || got[0].Headers["Content-Type"] != "application/json" {
		t.Errorf("webhooks = %+v, want the secops message with its JSON", got)
	}
	if all := e.srv.Webhooks(); len(all) != 2 || all[1].JSON != nil {
		t.Errorf("Webhooks() = %+v, want 2, the plain one without JSON", all)
	}
}

func TestAdmin_UnknownActionAndEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	_, err := e.core(t).ProcessCommonRequest(e.common("Ecs", "2014-05-26", "LaunchRockets", nil))
	wantServerError(t, err, "InvalidAction.NotFound", 404)
	_, err = e.core(t).ProcessCommonRequest(e.common("Foo", "1999-01-01", "DescribeInstances", nil))
	wantServerError(t, err, "InvalidAction.NotFound", 404)

	var health map[string]string
	if code := getJSON(t, e.url+"/_sandbox/health", &health); code != 200 || health["status"] != "ok" {
		t.Errorf("health = %d %v", code, health)
	}
	var msg map[string]string
	if code := getJSON(t, e.url+"/_sandbox/nope", &msg); code != 404 {
		t.Errorf("unknown endpoint = %d, want 404", code)
	}
	resp, err := http.Get(e.url + "/_sandbox/reset")
	mustNoErr(t, "GET reset", err)
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET reset = %d, want 405", resp.StatusCode)
	}
}

func TestResponses_ErrorBodyShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	resp, err := http.Get(e.url + "/?Action=DescribeInstances&Version=2014-05-26")
	mustNoErr(t, "GET", err)
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"RequestId", "HostId", "Code", "Message", "Recommend"} {
		if _, ok := body[k].(string); !ok {
			t.Errorf("error body %s = %#v, want a string", k, body[k])
		}
	}
	if body["Code"] != "MissingParameter" || resp.StatusCode != 400 || resp.Header.Get("x-acs-request-id") != body["RequestId"] {
		t.Errorf("unsigned call = %d %v, want 400 MissingParameter with the request ID header", resp.StatusCode, body)
	}
	if id := body["RequestId"].(string); len(id) != 36 || strings.ToUpper(id) != id {
		t.Errorf("RequestId = %q, want an upper-case UUID", id)
	}
}

func TestCalls_Bounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{MaxCalls: 10})
	c := e.ecs(t)
	for range 15 {
		_, err := c.DescribeDisks(ecs.CreateDescribeDisksRequest())
		mustNoErr(t, "DescribeDisks", err)
	}
	calls := e.srv.Calls()
	if len(calls) > 10 || calls[len(calls)-1].Seq != 15 {
		t.Errorf("call log = %d calls ending at seq %d, want at most 10 ending at 15", len(calls), calls[len(calls)-1].Seq)
	}
}
