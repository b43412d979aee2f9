package alicloud

import (
	"context"
	"slices"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/guard"
)

// keyDetails is what the access-key actions heartbeat before changing the
// status, so that a retried attempt reports the status before the first.
type keyDetails struct {
	AccessKeyID    string `json:"access_key_id"`
	PreviousStatus string `json:"previous_status"`
}

// RAMDisableAccessKey sets a RAM user's access key Inactive. The engine's
// own keys (and protected_access_keys) are refused. A key already inactive
// is success with changed false.
func (a *Activities) RAMDisableAccessKey(ctx context.Context, in activities.RAMAccessKeyInput) (activities.RAMAccessKeyOutput, error) {
	if err := a.guard.CheckAccessKey(in.AccessKeyID); err != nil {
		return activities.RAMAccessKeyOutput{AccessKeyID: in.AccessKeyID}, denied(err)
	}
	if slices.Contains(a.OwnAccessKeyIDs(), in.AccessKeyID) {
		return activities.RAMAccessKeyOutput{AccessKeyID: in.AccessKeyID}, denied(&guard.DeniedError{Rule: "own_access_key", Target: in.AccessKeyID,
			Reason: "soar itself signs with this key"})
	}
	return a.setKeyStatus(ctx, in, "Inactive")
}

// RAMEnableAccessKey sets a RAM user's access key Active again. A key
// already active is success with changed false.
func (a *Activities) RAMEnableAccessKey(ctx context.Context, in activities.RAMAccessKeyInput) (activities.RAMAccessKeyOutput, error) {
	return a.setKeyStatus(ctx, in, "Active")
}

func (a *Activities) setKeyStatus(ctx context.Context, in activities.RAMAccessKeyInput, status string) (activities.RAMAccessKeyOutput, error) {
	out := activities.RAMAccessKeyOutput{AccessKeyID: in.AccessKeyID, UserName: in.UserName}
	if err := checkID("access_key_id", in.AccessKeyID); err != nil {
		return out, err
	}
	if strings.HasPrefix(in.AccessKeyID, "STS.") {
		return out, invalidInput("access key %s is a temporary STS key: it cannot be disabled, it expires (revoke the role's sessions instead)", in.AccessKeyID)
	}
	if in.UserName != "" {
		if err := checkID("user_name", in.UserName); err != nil {
			return out, err
		}
	}
	s, err := a.session(ctx, in.Cloud)
	if err != nil {
		return out, err
	}
	c, err := s.ram()
	if err != nil {
		return out, err
	}
	if out.UserName == "" {
		if out.UserName, err = s.keyOwner(c, in.AccessKeyID); err != nil {
			return out, err
		}
	}
	current, err := s.keyStatus(c, out.UserName, in.AccessKeyID)
	if err != nil {
		return out, err
	}
	out.PreviousStatus, out.Status = current, current
	var prev keyDetails
	resumed := previousDetails(ctx, &prev) && prev.AccessKeyID == in.AccessKeyID && prev.PreviousStatus != ""
	if resumed {
		out.PreviousStatus = prev.PreviousStatus
	}
	if current == status {
		out.Outcome = outcome(in.Meta, resumed, []string{planf("access key %s of %s is already %s", in.AccessKeyID, out.UserName, status)})
		return out, nil
	}
	plan := []string{planf("set access key %s of RAM user %s %s (now %s)", in.AccessKeyID, out.UserName, status, current)}
	if in.Meta.DryRun {
		out.Outcome = outcome(in.Meta, false, plan)
		return out, nil
	}
	heartbeat(ctx, keyDetails{AccessKeyID: in.AccessKeyID, PreviousStatus: out.PreviousStatus})
	req := ram.CreateUpdateAccessKeyRequest()
	req.UserName = out.UserName
	req.UserAccessKeyId = in.AccessKeyID
	req.Status = status
	if _, err := c.UpdateAccessKey(req); err != nil {
		return out, classify("ram.UpdateAccessKey "+in.AccessKeyID, err)
	}
	if out.Status, err = s.keyStatus(c, out.UserName, in.AccessKeyID); err != nil {
		return out, err
	}
	out.Outcome = outcome(in.Meta, true, plan)
	s.log.Info("access key status changed", "access_key_id", in.AccessKeyID, "user_name", out.UserName, "status", out.Status)
	return out, nil
}

// keyStatus reads the status of one of a user's keys; a missing key is
// CloudNotFound.
func (s *session) keyStatus(c *ram.Client, user, id string) (string, error) {
	req := ram.CreateListAccessKeysRequest()
	req.UserName = user
	resp, err := c.ListAccessKeys(req)
	if err != nil {
		return "", classify("ram.ListAccessKeys "+user, err)
	}
	for _, k := range resp.AccessKeys.AccessKey {
		if k.AccessKeyId == id {
			return k.Status, nil
		}
	}
	return "", notFound("access key %s does not belong to RAM user %s (request %s)", id, user, resp.RequestId)
}

// keyOwner finds the RAM user owning a key by listing users and their
// keys.
func (s *session) keyOwner(c *ram.Client, id string) (string, error) {
	marker := ""
	for page := 0; page < 100; page++ {
		req := ram.CreateListUsersRequest()
		req.MaxItems = requests.NewInteger(100)
		req.Marker = marker
		resp, err := c.ListUsers(req)
		if err != nil {
			return "", classify("ram.ListUsers", err)
		}
		for _, u := range resp.Users.User {
			kr := ram.CreateListAccessKeysRequest()
			kr.UserName = u.UserName
			keys, err := c.ListAccessKeys(kr)
			if err != nil {
				return "", classify("ram.ListAccessKeys "+u.UserName, err)
			}
			for _, k := range keys.AccessKeys.AccessKey {
				if k.AccessKeyId == id {
					return u.UserName, nil
				}
			}
		}
		if !resp.IsTruncated || resp.Marker == "" {
			break
		}
		marker = resp.Marker
	}
	return "", notFound("access key %s belongs to no RAM user of account %s (a root account key cannot be disabled through RAM)", id, s.account)
}
