package sandbox_test

import (
	"slices"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cloudfw"

	"github.com/opensoar/soar/internal/sandbox"
)

func (e *testEnv) cloudfw(t testing.TB) *cloudfw.Client {
	t.Helper()
	c, err := cloudfw.NewClientWithOptions(region, sdk.NewConfig(),
		credentials.NewAccessKeyCredential(sandbox.DefaultAccessKeyID, sandbox.DefaultAccessKeySecret))
	mustNoErr(t, "cloudfw.NewClientWithOptions", err)
	c.Domain = e.host
	return c
}

func TestCloudFW_BlockFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{})
	c := e.cloudfw(t)

	add := cloudfw.CreateAddAddressBookRequest()
	add.GroupName, add.GroupType, add.Description = "soar-blocklist-in", "ip", "managed by soar"
	add.AddressList = "203.0.113.7/32,198.51.100.0/24"
	added, err := c.AddAddressBook(add)
	mustNoErr(t, "AddAddressBook", err)
	_, err = c.AddAddressBook(add)
	wantServerError(t, err, "ErrorAddressBookNameExist", 400)

	desc := cloudfw.CreateDescribeAddressBookRequest()
	desc.Query, desc.GroupType = "soar-blocklist-in", "ip"
	books, err := c.DescribeAddressBook(desc)
	mustNoErr(t, "DescribeAddressBook", err)
	if books.TotalCount != "1" || len(books.Acls) != 1 || books.Acls[0].GroupUuid != added.GroupUuid ||
		!slices.Equal(books.Acls[0].AddressList, []string{"203.0.113.7/32", "198.51.100.0/24"}) {
		t.Fatalf("DescribeAddressBook = %+v, want the new book with two addresses", books)
	}

	pol := cloudfw.CreateAddControlPolicyRequest()
	pol.Direction, pol.AclAction, pol.Source, pol.SourceType = "in", "drop", "soar-blocklist-in", "group"
	pol.Destination, pol.DestinationType, pol.Proto, pol.ApplicationName = "0.0.0.0/0", "net", "ANY", "ANY"
	pol.NewOrder, pol.Description = "1", "soar-blocklist-in"
	polResp, err := c.AddControlPolicy(pol)
	mustNoErr(t, "AddControlPolicy", err)

	dcp := cloudfw.CreateDescribeControlPolicyRequest()
	dcp.Direction, dcp.CurrentPage, dcp.PageSize, dcp.Description = "in", "1", "10", "soar-blocklist-in"
	policies, err := c.DescribeControlPolicy(dcp)
	mustNoErr(t, "DescribeControlPolicy", err)
	if policies.TotalCount != "1" || len(policies.Policys) != 1 || policies.Policys[0].AclUuid != polResp.AclUuid ||
		policies.Policys[0].Order != 1 || len(policies.Policys[0].SourceGroupCidrs) != 2 {
		t.Fatalf("DescribeControlPolicy = %+v, want the drop policy first with the book's CIDRs", policies)
	}
	st := e.srv.State().CloudFW
	if in := st.PoliciesFor("in"); len(in) != 2 || in[0].UUID != polResp.AclUuid || in[1].Order != 2 {
		t.Errorf("in policies = %+v, want the new one first and the office one shifted to 2", in)
	}

	mod := cloudfw.CreateModifyAddressBookRequest()
	mod.GroupUuid, mod.GroupName, mod.Description = added.GroupUuid, "soar-blocklist-in", "managed by soar"
	mod.AddressList = "203.0.113.7/32"
	_, err = c.ModifyAddressBook(mod)
	mustNoErr(t, "ModifyAddressBook (replace)", err)
	mod.AddressList = "192.0.2.1/32"
	mod.QueryParams["ModifyMode"] = "Append"
	_, err = c.ModifyAddressBook(mod)
	mustNoErr(t, "ModifyAddressBook (append)", err)
	mod.AddressList = "203.0.113.7/32"
	mod.QueryParams["ModifyMode"] = "Delete"
	_, err = c.ModifyAddressBook(mod)
	mustNoErr(t, "ModifyAddressBook (delete)", err)
	if b, _ := e.srv.State().CloudFW.AddressBookNamed("soar-blocklist-in"); !slices.Equal(b.Addresses, []string{"192.0.2.1/32"}) {
		t.Errorf("addresses = %v, want [192.0.2.1/32]", b.Addresses)
	}
	mod = cloudfw.CreateModifyAddressBookRequest() // the SDK keeps a reused request's parameters
	mod.GroupUuid, mod.GroupName = added.GroupUuid, "soar-blocklist-in"
	_, err = c.ModifyAddressBook(mod)
	wantServerError(t, err, "MissingParameter", 400)

	del := cloudfw.CreateDeleteAddressBookRequest()
	del.GroupUuid = added.GroupUuid
	_, err = c.DeleteAddressBook(del)
	wantServerError(t, err, "ErrorAddressBookInUse", 400)
	dp := cloudfw.CreateDeleteControlPolicyRequest()
	dp.AclUuid, dp.Direction = polResp.AclUuid, "in"
	_, err = c.DeleteControlPolicy(dp)
	mustNoErr(t, "DeleteControlPolicy", err)
	_, err = c.DeleteAddressBook(del)
	mustNoErr(t, "DeleteAddressBook", err)
	if in := e.srv.State().CloudFW.PoliciesFor("in"); len(in) != 1 || in[0].Order != 1 {
		t.Errorf("in policies = %+v, want the office policy back at order 1", in)
	}
}

func TestCloudFW_Validation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{AddressBookExistsCode: "AddressBookNameDuplicate"})
	c := e.cloudfw(t)
	add := cloudfw.CreateAddAddressBookRequest()
	add.GroupName, add.GroupType, add.Description, add.AddressList = "office", "ip", "dup", "192.0.2.1/32"
	_, err := c.AddAddressBook(add)
	wantServerError(t, err, "AddressBookNameDuplicate", 400)
	add.GroupName, add.AddressList = "bad", "not-an-ip"
	_, err = c.AddAddressBook(add)
	wantServerError(t, err, "InvalidParameter.AddressList", 400)

	pol := cloudfw.CreateAddControlPolicyRequest()
	pol.Direction, pol.AclAction, pol.Source, pol.SourceType = "in", "drop", "nope", "group"
	pol.Destination, pol.DestinationType, pol.Proto, pol.NewOrder, pol.Description = "0.0.0.0/0", "net", "ANY", "1", "x"
	_, err = c.AddControlPolicy(pol)
	wantServerError(t, err, "InvalidAddressBook.NotFound", 404)
	pol.Source, pol.NewOrder = "office", "9"
	_, err = c.AddControlPolicy(pol)
	wantServerError(t, err, "InvalidParameter.NewOrder", 400)

	dcp := cloudfw.CreateDescribeControlPolicyRequest()
	_, err = c.DescribeControlPolicy(dcp)
	wantServerError(t, err, "MissingParameter", 400)
}
