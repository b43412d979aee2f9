package sandbox_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/opensoar/soar/internal/sandbox"
)

func TestSignature_SDKRequestsVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})

	t.Run("ecs generated request", func(t *testing.T) {
		req := ecs.CreateDescribeInstancesRequest()
		req.InstanceIds = `["` + webID + `"]`
		resp, err := e.ecs(t).DescribeInstances(req)
		mustNoErr(t, "DescribeInstances", err)
		if got := len(resp.Instances.Instance); got != 1 {
			t.Fatalf("DescribeInstances returned %d instances, want 1", got)
		}
	})
	t.Run("common request with form body", func(t *testing.T) {
		r := e.common("Ecs", "2014-05-26", "DescribeInstances", nil)
		r.FormParams["InstanceIds"] = `["` + dbID + `"]`
		out := e.call(t, r)
		if got := out["TotalCount"]; got != float64(1) {
			t.Fatalf("TotalCount = %v, want 1 (the form parameter was applied)", got)
		}
	})
	t.Run("common request GET", func(t *testing.T) {
		r := e.common("Ecs", "2014-05-26", "DescribeSecurityGroups", map[string]string{"VpcId": vpcID})
		r.Method = "GET"
		out := e.call(t, r)
		if got := out["TotalCount"]; got != float64(3) {
			t.Fatalf("TotalCount = %v, want 3", got)
		}
	})
	t.Run("values needing percent-encoding", func(t *testing.T) {
		req := ecs.CreateDescribeSecurityGroupsRequest()
		req.SecurityGroupName = "a b*c~d/é+"
		resp, err := e.ecs(t).DescribeSecurityGroups(req)
		mustNoErr(t, "DescribeSecurityGroups", err)
		if resp.TotalCount != 0 {
			t.Fatalf("TotalCount = %d, want 0", resp.TotalCount)
		}
	})
}

func TestSignature_Refusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	describe := func(c *ecs.Client) error {
		_, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest())
		return err
	}

	t.Run("wrong secret", func(t *testing.T) {
		se := wantServerError(t, describe(e.ecsAs(t, sandbox.DefaultAccessKeyID, "not-the-secret")), "SignatureDoesNotMatch", 400)
		if !strings.Contains(se.Message(), "server string to sign is:POST&%2F&") {
			t.Errorf("Message = %q, want the server string to sign", se.Message())
		}
		// The SDK compares the server's string to sign with its own: equal
		// strings mean the secret is wrong.
		if !strings.HasPrefix(se.Recommend(), "InvalidAccessKeySecret") {
			t.Errorf("Recommend = %q, want InvalidAccessKeySecret…", se.Recommend())
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		wantServerError(t, describe(e.ecsAs(t, "LTAI5tNoSuchKey", "x")), "InvalidAccessKeyId.NotFound", 404)
	})
	t.Run("tampered in transit", func(t *testing.T) {
		c := e.ecs(t)
		c.SetTransport(rewrite(func(r *http.Request) {
			q := r.URL.Query()
			q.Set("InstanceIds", `["`+dbID+`"]`)
			r.URL.RawQuery = q.Encode()
		}))
		req := ecs.CreateDescribeInstancesRequest()
		req.InstanceIds = `["` + webID + `"]`
		_, err := c.DescribeInstances(req)
		se := wantServerError(t, err, "SignatureDoesNotMatch", 400)
		if strings.HasPrefix(se.Recommend(), "InvalidAccessKeySecret") {
			t.Errorf("Recommend = %q; the strings to sign differ, so it must not blame the secret", se.Recommend())
		}
	})
}

func TestSignature_InactiveKeyAfterUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	alice := e.ecsAs(t, aliceKey, aliceSec)
	_, err := alice.DescribeInstances(ecs.CreateDescribeInstancesRequest())
	mustNoErr(t, "DescribeInstances as alice", err)

	e.srv.Mutate(func(st *sandbox.State) {
		for i := range st.RAM.Users {
			for j := range st.RAM.Users[i].AccessKeys {
				if st.RAM.Users[i].AccessKeys[j].ID == aliceKey {
					st.RAM.Users[i].AccessKeys[j].Status = "Inactive"
				}
			}
		}
	})
	_, err = alice.DescribeInstances(ecs.CreateDescribeInstancesRequest())
	wantServerError(t, err, "InvalidAccessKeyId.Inactive", 400)
}

func TestSignature_ClockAndNonce(t *testing.T) {
	t.Parallel()
	t.Run("timestamp out of range", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, sandbox.Options{Now: func() time.Time { return time.Now().Add(20 * time.Minute) }})
		_, err := e.ecs(t).DescribeInstances(ecs.CreateDescribeInstancesRequest())
		wantServerError(t, err, "InvalidTimeStamp.Expired", 400)
	})
	t.Run("clock check disabled", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, sandbox.Options{Now: func() time.Time { return time.Now().Add(20 * time.Minute) }, ClockSkew: -1})
		_, err := e.ecs(t).DescribeInstances(ecs.CreateDescribeInstancesRequest())
		mustNoErr(t, "DescribeInstances", err)
	})
	t.Run("replayed nonce", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, sandbox.Options{})
		var captured *http.Request
		c := e.ecs(t)
		c.SetTransport(rewrite(func(r *http.Request) { captured = r.Clone(r.Context()) }))
		_, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest())
		mustNoErr(t, "DescribeInstances", err)

		resp, err := http.Post(e.url+"/?"+captured.URL.RawQuery, "application/x-www-form-urlencoded", nil)
		mustNoErr(t, "replay", err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), `"Code":"SignatureNonceUsed"`) {
			t.Fatalf("replay = %d %s, want 400 SignatureNonceUsed", resp.StatusCode, body)
		}
	})
}

func TestSignature_STSToken(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64
	e := newEnv(t, sandbox.Options{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})

	req := sts.CreateAssumeRoleRequest()
	req.RoleArn = "acs:ram::1234567890123456:role/soar-responder"
	req.RoleSessionName = "soar-test"
	req.DurationSeconds = "900"
	resp, err := e.sts(t).AssumeRole(req)
	mustNoErr(t, "AssumeRole", err)
	cr := resp.Credentials
	if !strings.HasPrefix(cr.AccessKeyId, "STS.") || cr.SecurityToken == "" || cr.Expiration == "" {
		t.Fatalf("AssumeRole credentials = %+v, want an STS. key, a token and an expiry", cr)
	}
	if resp.AssumedRoleUser.Arn != "acs:ram::1234567890123456:assumed-role/soar-responder/soar-test" {
		t.Errorf("AssumedRoleUser.Arn = %q", resp.AssumedRoleUser.Arn)
	}

	client := func(token string) *ecs.Client {
		c, err := ecs.NewClientWithOptions(region, sdk.NewConfig(),
			credentials.NewStsTokenCredential(cr.AccessKeyId, cr.AccessKeySecret, token))
		mustNoErr(t, "NewClientWithOptions", err)
		c.Domain = e.host
		return c
	}
	_, err = client(cr.SecurityToken).DescribeInstances(ecs.CreateDescribeInstancesRequest())
	mustNoErr(t, "DescribeInstances with the STS token", err)
	calls := e.srv.Calls()
	if last := calls[len(calls)-1]; last.Principal != "soar-responder/soar-test" || last.PrincipalType != "assumed-role" {
		t.Errorf("last call principal = %q (%s), want soar-responder/soar-test (assumed-role)", last.Principal, last.PrincipalType)
	}
	if last := calls[len(calls)-1]; last.Params["SecurityToken"] != "***" {
		t.Errorf("call log SecurityToken = %q, want it masked", last.Params["SecurityToken"])
	}

	_, err = client(cr.SecurityToken + "x").DescribeInstances(ecs.CreateDescribeInstancesRequest())
	wantServerError(t, err, "InvalidSecurityToken.MismatchWithAccessKey", 400)

	skew.Store(int64(16 * time.Minute)) // past the 900 s expiry; clock check comes later
	_, err = client(cr.SecurityToken).DescribeInstances(ecs.CreateDescribeInstancesRequest())
	wantServerError(t, err, "InvalidSecurityToken.Expired", 400)
}

func TestSignature_AssumeRoleErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	tests := []struct {
		arn, session, code string
		status             int
	}{
		{"acs:ram::1234567890123456:role/nope", "s1", "EntityNotExist.Role", 404},
		{"arn:aws:iam::1:role/x", "s1", "InvalidParameter.RoleArn", 400},
		{"acs:ram::1234567890123456:role/soar-responder", "x", "InvalidParameter.RoleSessionName", 400},
	}
	for _, tt := range tests {
		req := sts.CreateAssumeRoleRequest()
		req.RoleArn, req.RoleSessionName = tt.arn, tt.session
		_, err := e.sts(t).AssumeRole(req)
		wantServerError(t, err, tt.code, tt.status)
	}
}

func TestSignature_ConcurrentClientsRaceFree(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.ecs(t)
			for range 5 {
				req := ecs.CreateAuthorizeSecurityGroupRequest()
				req.SecurityGroupId = sgWeb
				req.Permissions = &[]ecs.AuthorizeSecurityGroupPermissions{{
					Policy: "drop", IpProtocol: "ALL", PortRange: "-1/-1", Priority: "1",
					SourceCidrIp: "203.0.113." + string(rune('1'+i)) + "/32",
				}}
				if _, err := c.AuthorizeSecurityGroup(req); err != nil {
					errs <- err
					return
				}
				if _, err := c.DescribeSecurityGroupAttribute(describeAttr(sgWeb)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	g, _ := e.srv.State().ECS.SecurityGroup(sgWeb)
	if got := len(g.Rules); got != 3+8 {
		t.Fatalf("sg-web has %d rules, want 11 (3 seeded + 8 distinct, repeats deduplicated)", got)
	}
}

func describeAttr(id string) *ecs.DescribeSecurityGroupAttributeRequest {
	r := ecs.CreateDescribeSecurityGroupAttributeRequest()
	r.SecurityGroupId = id
	return r
}

// rewrite is a transport that lets a test see or change each request.
type rewrite func(*http.Request)

func (f rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	f(r)
	return http.DefaultTransport.RoundTrip(r)
}

func TestSTS_GetCallerIdentity(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	id, err := e.sts(t).GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	mustNoErr(t, "GetCallerIdentity", err)
	if id.IdentityType != "RAMUser" || id.Arn != "acs:ram::1234567890123456:user/soar-engine" || id.UserId != "200000000000000001" {
		t.Errorf("GetCallerIdentity = %+v, want soar-engine", id)
	}
}

func TestRouting_HeaderFallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	req, _ := http.NewRequest(http.MethodPost, e.url+"/", nil)
	req.Header.Set("x-acs-action", "ListUsers")
	req.Header.Set("x-acs-version", "2015-05-01")
	resp, err := http.DefaultClient.Do(req)
	mustNoErr(t, "POST", err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Routed to RAM (not 404 InvalidAction.NotFound); refused for lack of a signature.
	if resp.StatusCode != 400 || !strings.Contains(string(body), `"HostId":"ram.aliyuncs.com"`) {
		t.Errorf("header-routed call = %d %s, want 400 from ram.aliyuncs.com", resp.StatusCode, body)
	}
}
