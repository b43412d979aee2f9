package alicloud

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/opensoar/soar/activities"
)

// idRE is what a cloud resource ID (instance, group, disk, key) looks
// like; anything else is refused before it reaches an API.
var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

func checkID(what, id string) error {
	if id == "" {
		return invalidInput("%s is required", what)
	}
	if !idRE.MatchString(id) {
		return invalidInput("%s %q is not a resource ID", what, id)
	}
	return nil
}

// jsonList renders ids as the JSON-array string the Describe* APIs take.
func jsonList(ids ...string) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

// instanceInfo is what the ECS actions need to know about an instance.
type instanceInfo struct {
	ID     string
	Status string
	VpcID  string
	OSType string
	Tags   map[string]string
	// Groups are the instance's security groups: its primary interface's
	// (DescribeInstances), or every interface's after instanceGroups.
	Groups []string
}

// describeInstance reads one instance; a missing one is a non-retryable
// CloudNotFound error (DescribeInstances answers an empty list, not an
// error).
func (s *session) describeInstance(c *ecs.Client, id string) (instanceInfo, error) {
	req := ecs.CreateDescribeInstancesRequest()
	req.InstanceIds = jsonList(id)
	req.PageSize = requests.NewInteger(10)
	resp, err := c.DescribeInstances(req)
	if err != nil {
		return instanceInfo{}, classify("ecs.DescribeInstances "+id, err)
	}
	for _, inst := range resp.Instances.Instance {
		if inst.InstanceId != id {
			continue
		}
		info := instanceInfo{ID: id, Status: inst.Status, VpcID: inst.VpcAttributes.VpcId, OSType: inst.OSType, Tags: map[string]string{},
			Groups: slices.Clone(inst.SecurityGroupIds.SecurityGroupId)}
		for _, t := range inst.Tags.Tag {
			k, v := t.TagKey, t.TagValue
			if k == "" {
				k, v = t.Key, t.Value
			}
			info.Tags[k] = v
		}
		return info, nil
	}
	return instanceInfo{}, notFound("ecs instance %s does not exist in %s (request %s)", id, s.region, resp.RequestId)
}

// instanceGroups returns the security groups of every network interface
// of inst, without repeats, in a stable order: the primary interface's (as
// DescribeInstances lists them) first, then those of the secondary
// interfaces by interface ID.
func (s *session) instanceGroups(c *ecs.Client, inst instanceInfo) ([]string, error) {
	nics, err := s.interfaces(c, inst.ID)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(nics, func(a, b activities.InterfaceGroups) int {
		switch {
		case a.Primary != b.Primary && a.Primary:
			return -1
		case a.Primary != b.Primary:
			return 1
		}
		return strings.Compare(a.NetworkInterfaceID, b.NetworkInterfaceID)
	})
	groups := slices.Clone(inst.Groups)
	for _, n := range nics {
		for _, g := range n.SecurityGroupIDs {
			if !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	return groups, nil
}

// ecsSession opens the session of an invocation (see session) and its ECS
// client.
func (a *Activities) ecsSession(ctx context.Context, cloud activities.Cloud) (*session, *ecs.Client, error) {
	s, err := a.session(ctx, cloud)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.ecs()
	if err != nil {
		return nil, nil, err
	}
	return s, c, nil
}

// ecsInstance opens the session and ECS client of an invocation and reads
// the instance id (see describeInstance).
func (a *Activities) ecsInstance(ctx context.Context, cloud activities.Cloud, id string) (*session, *ecs.Client, instanceInfo, error) {
	s, c, err := a.ecsSession(ctx, cloud)
	if err != nil {
		return nil, nil, instanceInfo{}, err
	}
	inst, err := s.describeInstance(c, id)
	if err != nil {
		return nil, nil, instanceInfo{}, err
	}
	return s, c, inst, nil
}

// guardedInstance is ecsInstance for a disruptive action: a protected
// instance is refused unless the step was approved (see checkProtected).
func (a *Activities) guardedInstance(ctx context.Context, meta activities.Meta, cloud activities.Cloud, id string) (*session, *ecs.Client, instanceInfo, error) {
	s, c, inst, err := a.ecsInstance(ctx, cloud, id)
	if err != nil {
		return nil, nil, instanceInfo{}, err
	}
	if err := a.checkProtected(meta, inst); err != nil {
		return nil, nil, instanceInfo{}, err
	}
	return s, c, inst, nil
}

// checkProtected refuses a disruptive action on a protected instance
// (by ID or by one of its real tags) unless the step was approved.
func (a *Activities) checkProtected(meta activities.Meta, inst instanceInfo) error {
	return denied(a.guard.CheckInstance(inst.ID, inst.Tags, meta.Approved))
}
