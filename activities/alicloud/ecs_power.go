package alicloud

import (
	"context"
	"fmt"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/opensoar/soar/activities"
)

// powerDetails is what stop/start heartbeat before acting: the status the
// instance had, so that a retried attempt reports it (and changed).
type powerDetails struct {
	InstanceID     string `json:"instance_id"`
	PreviousStatus string `json:"previous_status"`
}

// power is one direction of a power change.
type power struct {
	verb       string // stop, start
	target     string // Stopped, Running
	transition string // Stopping, Starting
	opposite   string // the status the call starts from: Running, Stopped
}

var (
	powerStop  = power{verb: "stop", target: "Stopped", transition: "Stopping", opposite: "Running"}
	powerStart = power{verb: "start", target: "Running", transition: "Starting", opposite: "Stopped"}
)

// ECSStopInstance stops an instance (hard power-off with force) and waits
// until it is Stopped. Protected instances need an approved step. An
// instance already stopped is success with changed false.
func (a *Activities) ECSStopInstance(ctx context.Context, in activities.ECSStopInstanceInput) (activities.ECSStopInstanceOutput, error) {
	prev, status, o, err := a.setPower(ctx, in.Meta, in.Cloud, in.InstanceID, powerStop, in.Force)
	return activities.ECSStopInstanceOutput{Outcome: o, InstanceID: in.InstanceID, PreviousStatus: prev, Status: status}, err
}

// ECSStartInstance starts an instance and waits until it is Running. An
// instance already running is success with changed false.
func (a *Activities) ECSStartInstance(ctx context.Context, in activities.ECSStartInstanceInput) (activities.ECSStartInstanceOutput, error) {
	prev, status, o, err := a.setPower(ctx, in.Meta, in.Cloud, in.InstanceID, powerStart, false)
	return activities.ECSStartInstanceOutput{Outcome: o, InstanceID: in.InstanceID, PreviousStatus: prev, Status: status}, err
}

// setPower moves an instance to p.target and returns its previous status,
// its final status and the outcome.
func (a *Activities) setPower(ctx context.Context, meta activities.Meta, cloud activities.Cloud, id string, p power, force bool) (string, string, activities.Outcome, error) {
	var o activities.Outcome
	if err := checkID("instance_id", id); err != nil {
		return "", "", o, err
	}
	s, c, inst, err := a.ecsInstance(ctx, cloud, id)
	if err != nil {
		return "", "", o, err
	}
	if p == powerStop {
		if err := a.checkProtected(meta, inst); err != nil {
			return inst.Status, inst.Status, o, err
		}
	}
	previous := inst.Status
	var prev powerDetails
	resumed := previousDetails(ctx, &prev) && prev.InstanceID == id && prev.PreviousStatus != ""
	if resumed {
		previous = prev.PreviousStatus
	}
	switch inst.Status {
	case p.target:
		plan := []string{planf("instance %s is already %s", id, p.target)}
		return previous, inst.Status, outcome(meta, resumed, plan), nil
	case p.transition:
		if meta.DryRun {
			return previous, inst.Status, outcome(meta, false, []string{planf("instance %s is %s; wait until %s", id, p.transition, p.target)}), nil
		}
	case p.opposite:
		how := ""
		if force {
			how = " (forced power-off)"
		}
		plan := []string{planf("%s instance %s%s and wait until it is %s", p.verb, id, how, p.target)}
		if meta.DryRun {
			return previous, inst.Status, outcome(meta, false, plan), nil
		}
		heartbeat(ctx, powerDetails{InstanceID: id, PreviousStatus: previous})
		if err := s.powerCall(c, id, p, force); err != nil {
			return previous, inst.Status, o, err
		}
		resumed = true
	default:
		// Pending, Starting while stopping, Stopping while starting: wait
		// for the other operation; Temporal retries with backoff.
		return previous, inst.Status, o, fmt.Errorf("%s instance %s: it is %s; retry once it is %s", p.verb, id, inst.Status, p.opposite)
	}
	status := inst.Status
	err = a.pollUntil(ctx, fmt.Sprintf("instance %s to be %s", id, p.target), powerDetails{InstanceID: id, PreviousStatus: previous}, func() (bool, error) {
		inst, err := s.describeInstance(c, id)
		if err != nil {
			return false, err
		}
		status = inst.Status
		return status == p.target, nil
	})
	if err != nil {
		return previous, status, o, err
	}
	s.log.Info("instance power changed", "instance_id", id, "status", status)
	return previous, status, outcome(meta, resumed, []string{planf("%s instance %s: %s → %s", p.verb, id, previous, status)}), nil
}

// powerCall sends StopInstance or StartInstance. IncorrectInstanceStatus
// after a race with another caller is success when the instance is
// already on its way.
func (s *session) powerCall(c *ecs.Client, id string, p power, force bool) error {
	var err error
	if p == powerStop {
		req := ecs.CreateStopInstanceRequest()
		req.InstanceId = id
		req.ForceStop = requests.NewBoolean(force)
		req.StoppedMode = "KeepCharging"
		_, err = c.StopInstance(req)
	} else {
		req := ecs.CreateStartInstanceRequest()
		req.InstanceId = id
		_, err = c.StartInstance(req)
	}
	if err == nil {
		return nil
	}
	if errCode(err) == "IncorrectInstanceStatus" {
		inst, rerr := s.describeInstance(c, id)
		if rerr == nil && (inst.Status == p.target || inst.Status == p.transition) {
			return nil
		}
	}
	return classify(fmt.Sprintf("ecs.%sInstance %s", map[bool]string{true: "Stop", false: "Start"}[p == powerStop], id), err)
}
