package sandbox_test

import (
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"

	"github.com/opensoar/soar/internal/sandbox"
)

func (e *testEnv) ram(t testing.TB, ak, secret string) *ram.Client {
	t.Helper()
	c, err := ram.NewClientWithOptions(region, sdk.NewConfig(), credentials.NewAccessKeyCredential(ak, secret))
	mustNoErr(t, "ram.NewClientWithOptions", err)
	c.Domain = e.host
	return c
}

func TestRAM_DisableKeyLocksItOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	c := e.ram(t, sandbox.DefaultAccessKeyID, sandbox.DefaultAccessKeySecret)

	users, err := c.ListUsers(ram.CreateListUsersRequest())
	mustNoErr(t, "ListUsers", err)
	if len(users.Users.User) != 2 || users.IsTruncated {
		t.Fatalf("ListUsers = %+v, want soar-engine and alice", users.Users.User)
	}
	paged := ram.CreateListUsersRequest()
	paged.MaxItems = "1"
	first, err := c.ListUsers(paged)
	mustNoErr(t, "ListUsers MaxItems=1", err)
	if !first.IsTruncated || first.Marker != "alice" {
		t.Errorf("ListUsers page = truncated %v marker %q, want true and alice", first.IsTruncated, first.Marker)
	}

	lk := ram.CreateListAccessKeysRequest()
	lk.UserName = "alice"
	keys, err := c.ListAccessKeys(lk)
	mustNoErr(t, "ListAccessKeys", err)
	if len(keys.AccessKeys.AccessKey) != 1 || keys.AccessKeys.AccessKey[0].AccessKeyId != aliceKey ||
		keys.AccessKeys.AccessKey[0].Status != "Active" || keys.AccessKeys.AccessKey[0].AccessKeySecret != "" {
		t.Fatalf("alice's keys = %+v, want one Active key without its secret", keys.AccessKeys.AccessKey)
	}

	alice := e.ecsAs(t, aliceKey, aliceSec)
	_, err = alice.DescribeInstances(ecs.CreateDescribeInstancesRequest())
	mustNoErr(t, "DescribeInstances as alice", err)
	last := ram.CreateGetAccessKeyLastUsedRequest()
	last.UserName, last.UserAccessKeyId = "alice", aliceKey
	lu, err := c.GetAccessKeyLastUsed(last)
	mustNoErr(t, "GetAccessKeyLastUsed", err)
	if lu.AccessKeyLastUsed.LastUsedDate == "" {
		t.Error("LastUsedDate is empty after alice's call")
	}

	up := ram.CreateUpdateAccessKeyRequest()
	up.UserName, up.UserAccessKeyId, up.Status = "alice", aliceKey, "Inactive"
	_, err = c.UpdateAccessKey(up)
	mustNoErr(t, "UpdateAccessKey", err)
	if k, owner, _ := e.srv.State().RAM.AccessKey(aliceKey); k.Status != "Inactive" || owner != "alice" {
		t.Errorf("state key = %+v of %s, want Inactive of alice", k, owner)
	}
	_, err = alice.DescribeInstances(ecs.CreateDescribeInstancesRequest())
	wantServerError(t, err, "InvalidAccessKeyId.Inactive", 400)

	up.Status = "Active"
	_, err = c.UpdateAccessKey(up)
	mustNoErr(t, "UpdateAccessKey Active", err)
	_, err = alice.DescribeInstances(ecs.CreateDescribeInstancesRequest())
	mustNoErr(t, "DescribeInstances as alice again", err)
}

func TestRAM_Errors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	c := e.ram(t, sandbox.DefaultAccessKeyID, sandbox.DefaultAccessKeySecret)
	tests := []struct {
		user, key, status, code string
		http                    int
	}{
		{"ghost", aliceKey, "Inactive", "EntityNotExist.User", 404},
		{"alice", "LTAI5tNope", "Inactive", "EntityNotExist.User.AccessKey", 404},
		{"soar-engine", aliceKey, "Inactive", "EntityNotExist.User.AccessKey", 404},
		{"alice", aliceKey, "Disabled", "InvalidParameter.Status", 400},
	}
	for _, tt := range tests {
		up := ram.CreateUpdateAccessKeyRequest()
		up.UserName, up.UserAccessKeyId, up.Status = tt.user, tt.key, tt.status
		_, err := c.UpdateAccessKey(up)
		wantServerError(t, err, tt.code, tt.http)
	}
	gu := ram.CreateGetUserRequest()
	gu.UserName = "alice"
	u, err := c.GetUser(gu)
	mustNoErr(t, "GetUser", err)
	if u.User.UserId != "200000000000000002" {
		t.Errorf("GetUser = %+v", u.User)
	}
	// Without UserName, the caller's own keys.
	own, err := c.ListAccessKeys(ram.CreateListAccessKeysRequest())
	mustNoErr(t, "ListAccessKeys (own)", err)
	if len(own.AccessKeys.AccessKey) != 1 || own.AccessKeys.AccessKey[0].AccessKeyId != sandbox.DefaultAccessKeyID {
		t.Errorf("own keys = %+v, want sandbox-ak", own.AccessKeys.AccessKey)
	}
}
