package alicloud

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/opensoar/soar/activities"
)

// snapshotDetails is what snapshot_instance heartbeats: the snapshot of
// each disk, so that a retried attempt resumes polling instead of creating
// new ones.
type snapshotDetails struct {
	InstanceID string            `json:"instance_id"`
	Snapshots  map[string]string `json:"snapshots"` // disk → snapshot
}

// snapshotName is the deterministic name of the evidence snapshot of one
// disk for one step of one workflow run (see runID): a retry or a repeat
// in the run finds it by name, a later incident reusing the workflow ID
// takes new evidence. 26 characters, within the API's 2 to 128.
func snapshotName(run string, meta activities.Meta, diskID string) string {
	return "soar-evidence-" + shortHash(run, meta.Incident, meta.Step, diskID)
}

// snapshotDescription is the reason and the incident, within the API's
// 256 characters and not looking like a URL.
func snapshotDescription(meta activities.Meta, reason string) string {
	d := "soar evidence"
	if reason != "" {
		d += ": " + reason
	}
	if meta.Incident != "" {
		d += " (incident " + meta.Incident + ")"
	}
	for utf8.RuneCountInString(d) > 256 {
		_, size := utf8.DecodeLastRuneInString(d)
		d = d[:len(d)-size]
	}
	return d
}

type diskInfo struct {
	ID   string
	Type string
	Size int
}

// instanceDisks lists the disks attached to an instance, system first.
func (s *session) instanceDisks(c *ecs.Client, instanceID string) ([]diskInfo, error) {
	var out []diskInfo
	for page := 1; page <= 10; page++ {
		req := ecs.CreateDescribeDisksRequest()
		req.InstanceId = instanceID
		req.PageNumber = requests.NewInteger(page)
		req.PageSize = requests.NewInteger(100)
		resp, err := c.DescribeDisks(req)
		if err != nil {
			return nil, classify("ecs.DescribeDisks "+instanceID, err)
		}
		for _, d := range resp.Disks.Disk {
			out = append(out, diskInfo{ID: d.DiskId, Type: strings.ToLower(d.Type), Size: d.Size})
		}
		if page*100 >= resp.TotalCount || len(resp.Disks.Disk) == 0 {
			break
		}
	}
	var sys, data []diskInfo
	for _, d := range out {
		if d.Type == "system" {
			sys = append(sys, d)
		} else {
			data = append(data, d)
		}
	}
	return append(sys, data...), nil
}

// snapshotStatus is one snapshot as DescribeSnapshots shows it.
type snapshotStatus struct {
	ID       string
	Status   string
	Progress string
}

// findSnapshot returns the snapshot of a disk with the given name, if any.
func (s *session) findSnapshot(c *ecs.Client, diskID, name string) (snapshotStatus, bool, error) {
	req := ecs.CreateDescribeSnapshotsRequest()
	req.DiskId = diskID
	req.SnapshotName = name
	resp, err := c.DescribeSnapshots(req)
	if err != nil {
		return snapshotStatus{}, false, classify("ecs.DescribeSnapshots "+diskID, err)
	}
	for _, sn := range resp.Snapshots.Snapshot {
		if sn.SnapshotName == name && sn.Status != "failed" {
			return snapshotStatus{ID: sn.SnapshotId, Status: sn.Status, Progress: sn.Progress}, true, nil
		}
	}
	return snapshotStatus{}, false, nil
}

// snapshots reads the status of the given snapshots.
func (s *session) snapshots(c *ecs.Client, ids []string) (map[string]snapshotStatus, error) {
	req := ecs.CreateDescribeSnapshotsRequest()
	req.SnapshotIds = jsonList(ids...)
	req.PageSize = requests.NewInteger(100)
	resp, err := c.DescribeSnapshots(req)
	if err != nil {
		return nil, classify("ecs.DescribeSnapshots", err)
	}
	out := map[string]snapshotStatus{}
	for _, sn := range resp.Snapshots.Snapshot {
		out[sn.SnapshotId] = snapshotStatus{ID: sn.SnapshotId, Status: sn.Status, Progress: sn.Progress}
	}
	return out, nil
}

// ECSSnapshotInstance snapshots every disk of an instance (evidence) and
// waits until every snapshot is accomplished, heartbeating the snapshot IDs
// so that a retry resumes polling. Snapshots are named after the step and
// disk and sent with a ClientToken: a repeat finds them and changes
// nothing. A failed snapshot is a non-retryable RemoteFailed error.
func (a *Activities) ECSSnapshotInstance(ctx context.Context, in activities.ECSSnapshotInstanceInput) (activities.ECSSnapshotInstanceOutput, error) {
	out := activities.ECSSnapshotInstanceOutput{InstanceID: in.InstanceID, SnapshotIDs: []string{}, Disks: []activities.DiskSnapshot{}}
	if err := checkID("instance_id", in.InstanceID); err != nil {
		return out, err
	}
	s, c, _, err := a.ecsInstance(ctx, in.Cloud, in.InstanceID)
	if err != nil {
		return out, err
	}
	disks, err := s.instanceDisks(c, in.InstanceID)
	if err != nil {
		return out, err
	}
	if len(disks) == 0 {
		return out, notFound("ecs instance %s has no disks to snapshot", in.InstanceID)
	}
	var prev snapshotDetails
	if !previousDetails(ctx, &prev) || prev.InstanceID != in.InstanceID {
		prev = snapshotDetails{}
	}
	details := snapshotDetails{InstanceID: in.InstanceID, Snapshots: map[string]string{}}
	run := runID(ctx)
	var plan []string
	var missing []diskInfo
	for _, d := range disks {
		if id := prev.Snapshots[d.ID]; id != "" {
			details.Snapshots[d.ID] = id
			continue
		}
		sn, ok, err := s.findSnapshot(c, d.ID, snapshotName(run, in.Meta, d.ID))
		if err != nil {
			return out, err
		}
		if ok {
			details.Snapshots[d.ID] = sn.ID
			plan = append(plan, planf("%s disk %s already has the evidence snapshot %s (%s)", d.Type, d.ID, sn.ID, sn.Status))
			continue
		}
		missing = append(missing, d)
		plan = append(plan, planf("snapshot the %s disk %s (%d GiB) and wait until it is accomplished", d.Type, d.ID, d.Size))
	}
	if in.Meta.DryRun {
		for _, d := range disks {
			out.Disks = append(out.Disks, activities.DiskSnapshot{DiskID: d.ID, DiskType: d.Type, SnapshotID: details.Snapshots[d.ID]})
		}
		out.Outcome = outcome(in.Meta, false, plan)
		return out, nil
	}
	changed := len(prev.Snapshots) > 0
	for _, d := range missing {
		req := ecs.CreateCreateSnapshotRequest()
		req.DiskId = d.ID
		req.SnapshotName = snapshotName(run, in.Meta, d.ID)
		req.Description = snapshotDescription(in.Meta, in.Reason)
		req.ClientToken = clientToken(run, in.Meta, "ecs.snapshot_instance", d.ID)
		tags := []ecs.CreateSnapshotTag{{Key: "soar:evidence", Value: "true"}}
		if in.Meta.Incident != "" {
			tags = append(tags, ecs.CreateSnapshotTag{Key: "soar:incident", Value: truncate(in.Meta.Incident, tagValueMax)})
		}
		req.Tag = &tags
		resp, err := c.CreateSnapshot(req)
		if err != nil {
			return out, classify("ecs.CreateSnapshot "+d.ID, err)
		}
		details.Snapshots[d.ID] = resp.SnapshotId
		changed = true
		heartbeat(ctx, details)
		s.log.Info("snapshot started", "disk_id", d.ID, "snapshot_id", resp.SnapshotId)
	}
	ids := make([]string, 0, len(disks))
	for _, d := range disks {
		ids = append(ids, details.Snapshots[d.ID])
	}
	var last map[string]snapshotStatus
	err = a.pollUntil(ctx, "snapshots of "+in.InstanceID, details, func() (bool, error) {
		st, err := s.snapshots(c, ids)
		if err != nil {
			return false, err
		}
		last = st
		done := true
		for _, d := range disks {
			sn, ok := st[details.Snapshots[d.ID]]
			switch {
			case !ok:
				return false, fmt.Errorf("snapshot %s of disk %s: not found yet", details.Snapshots[d.ID], d.ID)
			case sn.Status == "failed":
				return false, remoteFailed(fmt.Sprintf("snapshot %s of disk %s failed", sn.ID, d.ID))
			case sn.Status != "accomplished":
				done = false
			}
		}
		return done, nil
	})
	if err != nil {
		return out, err
	}
	for _, d := range disks {
		id := details.Snapshots[d.ID]
		out.SnapshotIDs = append(out.SnapshotIDs, id)
		out.Disks = append(out.Disks, activities.DiskSnapshot{DiskID: d.ID, DiskType: d.Type, SnapshotID: id, Status: last[id].Status})
	}
	if changed {
		plan = append(plan, planf("%d snapshots of %s accomplished", len(ids), in.InstanceID))
	}
	out.Outcome = outcome(in.Meta, changed, plan)
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
