package sandbox

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

func (s *Server) describeDisks(rc *reqCtx) (obj, error) {
	p := rc.p
	ids, err := p.jsonStrings("DiskIds")
	if err != nil {
		return nil, err
	}
	diskType := firstNonEmpty(p.get("DiskType"), "all")
	if diskType != "all" && diskType != "system" && diskType != "data" {
		return nil, errBadRequest("InvalidDiskType.ValueNotSupported", fmt.Sprintf("The specified DiskType %q is not all, system or data.", diskType))
	}
	tags := p.tags("Tag")
	pg, err := pageOf(p, 10, 100)
	if err != nil {
		return nil, err
	}
	var items []obj
	for _, d := range s.st.ECS.Disks {
		ok := (p.get("DiskIds") == "" || slices.Contains(ids, d.ID)) &&
			eqOrEmpty(p.get("InstanceId"), d.InstanceID) &&
			(diskType == "all" || d.Type == diskType) &&
			eqOrEmpty(p.get("Status"), d.Status) &&
			eqOrEmpty(p.get("Category"), d.Category) &&
			eqOrEmpty(p.get("ZoneId"), d.ZoneID) &&
			eqOrEmpty(p.get("DiskName"), d.Name) &&
			tagsMatch(tags, d.Tags)
		if !ok {
			continue
		}
		items = append(items, obj{
			"DiskId":             d.ID,
			"DiskName":           d.Name,
			"InstanceId":         d.InstanceID,
			"Type":               d.Type,
			"Category":           d.Category,
			"Size":               d.Size,
			"Device":             d.Device,
			"Status":             d.Status,
			"ZoneId":             d.ZoneID,
			"RegionId":           s.st.Region,
			"Portable":           d.Type == "data",
			"DeleteWithInstance": true,
			"Encrypted":          false,
			"PerformanceLevel":   "PL0",
			"CreationTime":       ecsTime(d.CreationTime),
			"AttachedTime":       ecsTime(d.CreationTime),
			"Tags":               obj{"Tag": tagList(d.Tags)},
			"OperationLocks":     obj{"OperationLock": []obj{}},
		})
	}
	out := pg.meta(len(items))
	out["Disks"] = obj{"Disk": orEmpty(pageSlice(pg, items))}
	return out, nil
}

func (s *Server) createSnapshot(rc *reqCtx) (obj, error) {
	p := rc.p
	diskID, err := p.required("DiskId")
	if err != nil {
		return nil, err
	}
	d, ok := s.st.ECS.Disk(diskID)
	if !ok {
		return nil, errNotFound("InvalidDiskId.NotFound", fmt.Sprintf("The specified DiskId %q does not exist.", diskID))
	}
	name := p.get("SnapshotName")
	if name != "" && (utf8.RuneCountInString(name) < 2 || utf8.RuneCountInString(name) > 128 ||
		strings.HasPrefix(name, "auto") || strings.HasPrefix(name, "http://") || strings.HasPrefix(name, "https://")) {
		return nil, errBadRequest("InvalidSnapshotName.Malformed",
			"The snapshot name must be 2 to 128 characters and not start with auto, http:// or https://.")
	}
	desc := p.get("Description")
	if utf8.RuneCountInString(desc) > 256 || strings.HasPrefix(desc, "http://") || strings.HasPrefix(desc, "https://") {
		return nil, errNotFound("InvalidDescription.Malformed", "The description must be at most 256 characters and not start with http:// or https://.")
	}
	retention, err := p.integer("RetentionDays", 0)
	if err != nil {
		return nil, err
	}
	if d.InstanceID != "" {
		if inst, _ := s.st.ECS.Instance(d.InstanceID); inst.Status == "Stopping" || inst.Status == "Starting" {
			return nil, errBadRequest("IncorrectInstanceStatus",
				fmt.Sprintf("The instance %s is %s; snapshots need it Running or Stopped.", inst.ID, inst.Status))
		}
	}
	existing := s.st.ECS.SnapshotsOf(diskID)
	if slices.ContainsFunc(existing, func(x Snapshot) bool { return x.Status == "progressing" }) {
		return nil, errForbidden("IncorrectDiskStatus.CreatingSnapshot", "A snapshot of the disk is being created; try again later.")
	}
	if len(existing) >= s.opts.SnapshotsPerDisk {
		return nil, errForbidden("QuotaExceed.Snapshot", fmt.Sprintf("The disk already has %d snapshots, the maximum.", len(existing)))
	}
	snap := Snapshot{
		ID:            s.nextID("s"),
		Name:          name,
		Description:   desc,
		DiskID:        diskID,
		DiskType:      d.Type,
		DiskSize:      d.Size,
		Status:        "progressing",
		Progress:      "0%",
		RetentionDays: retention,
		Tags:          p.tags("Tag"),
		CreationTime:  rc.now,
		Pending:       s.startPending(rc.now),
	}
	if snap.Pending == nil {
		snap.Status, snap.Progress = "accomplished", "100%"
	}
	s.st.ECS.Snapshots = append(s.st.ECS.Snapshots, snap)
	rc.changed = true
	return obj{"SnapshotId": snap.ID}, nil
}

// pollSnapshot counts a read of a progressing snapshot, advancing Progress.
func (s *Server) pollSnapshot(snap *Snapshot, rc *reqCtx) {
	if snap.Status != "progressing" {
		return
	}
	if s.poll(&snap.Pending, rc.now) {
		snap.Status, snap.Progress = "accomplished", "100%"
		rc.changed = true
		return
	}
	total := max(s.opts.AsyncPolls, 1)
	done := total - snap.Pending.Polls
	snap.Progress = strconv.Itoa(100*done/total) + "%"
}

func (s *Server) describeSnapshots(rc *reqCtx) (obj, error) {
	p := rc.p
	ids, err := p.jsonStrings("SnapshotIds")
	if err != nil {
		return nil, err
	}
	status := firstNonEmpty(p.get("Status"), "all")
	tags := p.tags("Tag")
	pg, err := pageOf(p, 10, 100)
	if err != nil {
		return nil, err
	}
	var match []*Snapshot
	for i := range s.st.ECS.Snapshots {
		snap := &s.st.ECS.Snapshots[i]
		instOK := true
		if id := p.get("InstanceId"); id != "" {
			d, _ := s.st.ECS.Disk(snap.DiskID)
			instOK = d.InstanceID == id
		}
		ok := instOK && (p.get("SnapshotIds") == "" || slices.Contains(ids, snap.ID)) &&
			eqOrEmpty(p.get("DiskId"), snap.DiskID) &&
			eqOrEmpty(p.get("SnapshotName"), snap.Name) &&
			(status == "all" || status == snap.Status) &&
			(p.get("SourceDiskType") == "" || strings.EqualFold(p.get("SourceDiskType"), snap.DiskType)) &&
			tagsMatch(tags, snap.Tags)
		if ok {
			match = append(match, snap)
		}
	}
	var items []obj
	for _, snap := range pageSlice(pg, match) {
		s.pollSnapshot(snap, rc)
		items = append(items, obj{
			"SnapshotId":     snap.ID,
			"SnapshotName":   snap.Name,
			"Description":    snap.Description,
			"SourceDiskId":   snap.DiskID,
			"SourceDiskType": capitalize(snap.DiskType),
			"SourceDiskSize": strconv.Itoa(snap.DiskSize),
			"Status":         snap.Status,
			"Progress":       snap.Progress,
			"RemainTime":     0,
			"RetentionDays":  snap.RetentionDays,
			"Category":       "standard",
			"SnapshotType":   "user",
			"Usage":          "none",
			"Available":      snap.Status == "accomplished",
			"InstantAccess":  false,
			"Encrypted":      false,
			"RegionId":       s.st.Region,
			"CreationTime":   isoTime(snap.CreationTime),
			"Tags":           obj{"Tag": tagList(snap.Tags)},
		})
	}
	out := pg.meta(len(match))
	out["Snapshots"] = obj{"Snapshot": orEmpty(items)}
	return out, nil
}

func (s *Server) deleteSnapshot(rc *reqCtx) (obj, error) {
	id, err := rc.p.required("SnapshotId")
	if err != nil {
		return nil, err
	}
	snap, ok := s.st.ECS.Snapshot(id)
	if !ok {
		return nil, errNotFound("InvalidSnapshotId.NotFound", fmt.Sprintf("The specified SnapshotId %q does not exist.", id))
	}
	if snap.Status == "progressing" && !rc.p.boolean("Force") {
		return nil, errForbidden("IncorrectSnapshotStatus", "The snapshot is being created and cannot be deleted yet.")
	}
	s.st.ECS.Snapshots = slices.DeleteFunc(s.st.ECS.Snapshots, func(x Snapshot) bool { return x.ID == id })
	rc.changed = true
	return obj{}, nil
}

// capitalize spells system/data as DescribeSnapshots does (System/Data).
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
