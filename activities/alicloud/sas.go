package alicloud

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sas"

	"github.com/opensoar/soar/activities"
)

const (
	// sasPending is the EventStatus of an event waiting to be handled;
	// every other status (ignored, false positive, handling, handled,
	// expired) means there is nothing left to do.
	sasPending = 1
	// sasMaxEvents is how many events HandleSecurityEvents takes at once.
	sasMaxEvents = 100
)

// sasDetails is what handle_event heartbeats: the task, so that a retried
// attempt polls it instead of handling the events again.
type sasDetails struct {
	TaskID int64    `json:"task_id"`
	Events []string `json:"events"`
}

// sasOperations are the operation codes the action accepts.
var sasOperations = []string{"offline_handled", "kill_and_quara", "virus_quara", "block_ip", "mark_mis_info", "deal", "ignore"}

// suspEvent is one Security Center event as DescribeSuspEvents shows it.
type suspEvent struct {
	ID         string
	Status     int
	Name       string
	InstanceID string
	Details    map[string]string
}

func (s *session) suspEvent(c *sas.Client, id string) (suspEvent, error) {
	req := sas.CreateDescribeSuspEventsRequest()
	req.Id = requests.Integer(id)
	req.CurrentPage = "1"
	req.PageSize = "10"
	resp, err := c.DescribeSuspEvents(req)
	if err != nil {
		return suspEvent{}, classify("sas.DescribeSuspEvents "+id, err)
	}
	for _, ev := range resp.SuspEvents {
		if strconv.FormatInt(ev.Id, 10) != id {
			continue
		}
		out := suspEvent{ID: id, Status: ev.EventStatus, Name: ev.Name, InstanceID: ev.InstanceId, Details: map[string]string{}}
		for _, d := range ev.Details {
			out.Details[d.Name] = d.Value
		}
		return out, nil
	}
	return suspEvent{}, notFound("Security Center event %s does not exist (request %s)", id, resp.RequestId)
}

// operationOffered reports whether Security Center offers op on the event.
func (s *session) operationOffered(c *sas.Client, id, op string) (bool, error) {
	req := sas.CreateDescribeSecurityEventOperationsRequest()
	req.SecurityEventId = requests.Integer(id)
	resp, err := c.DescribeSecurityEventOperations(req)
	if err != nil {
		return false, classify("sas.DescribeSecurityEventOperations "+id, err)
	}
	for _, o := range resp.SecurityEventOperationsResponse {
		if o.OperationCode == op {
			return o.UserCanOperate, nil
		}
	}
	return false, nil
}

// sasKillOperations are the operations that kill processes and move files
// on the event's instance.
var sasKillOperations = []string{"kill_and_quara", "virus_quara"}

// eventIPs are the addresses in an event's details that block_ip would
// block: the usual keys, and any other detail whose name says IP and whose
// value is an address or a CIDR.
func eventIPs(ev suspEvent) []string {
	var ips []string
	for _, k := range slices.Sorted(maps.Keys(ev.Details)) {
		v := strings.TrimSpace(ev.Details[k])
		name := strings.ToLower(k)
		if v == "" || !(name == "ip" || strings.HasSuffix(name, "_ip") || strings.HasSuffix(name, "ip_address") || strings.HasSuffix(name, "_ips")) {
			continue
		}
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
			if _, err := netip.ParseAddr(f); err == nil {
				ips = append(ips, f)
			} else if _, err := netip.ParsePrefix(f); err == nil {
				ips = append(ips, f)
			}
		}
	}
	return ips
}

// checkSASOperation applies the guardrails to one event's operation:
// block_ip needs an address in the event's details and each one passes the
// block guard; a kill or quarantine runs on the event's instance, which
// passes the protected-instance check (an approved step passes).
func (a *Activities) checkSASOperation(ctx context.Context, in activities.SASHandleEventInput, ev suspEvent) error {
	switch {
	case in.Operation == "block_ip":
		ips := eventIPs(ev)
		if len(ips) == 0 {
			return guardDenied("block_ip on event %s (%s): no IP address in its details to check against the guardrails", ev.ID, ev.Name)
		}
		for _, ip := range ips {
			if err := a.guard.CheckBlock(ip); err != nil {
				return denied(err)
			}
		}
	case slices.Contains(sasKillOperations, in.Operation) && !in.Meta.Approved:
		if ev.InstanceID == "" {
			return guardDenied("%s on event %s (%s): the event names no instance to check against protected_instances; approve the step to run it", in.Operation, ev.ID, ev.Name)
		}
		if _, _, _, err := a.guardedInstance(ctx, in.Meta, in.Cloud, ev.InstanceID); err != nil {
			return err
		}
	}
	return nil
}

// SASHandleEvent handles Security Center events with one operation (mark
// handled, quarantine, block, false positive, ignore) and waits for the
// task's result. Events already handled are skipped: when none is left the
// result is "already_handled" with changed false. For block_ip, the
// events' remote addresses are checked against the guardrails (an event
// without one is refused); for kill_and_quara and virus_quara, the event's
// instance against protected_instances. A failed
// task is a non-retryable RemoteFailed error naming each event's error.
func (a *Activities) SASHandleEvent(ctx context.Context, in activities.SASHandleEventInput) (activities.SASHandleEventOutput, error) {
	out := activities.SASHandleEventOutput{Handled: []string{}}
	if !slices.Contains(sasOperations, in.Operation) {
		return out, invalidInput("operation %q: want one of %s", in.Operation, strings.Join(sasOperations, ", "))
	}
	if len(in.EventIDs) == 0 {
		return out, invalidInput("event_ids is required")
	}
	if len(in.EventIDs) > sasMaxEvents {
		return out, invalidInput("event_ids: %d events, at most %d per step (use foreach over chunks)", len(in.EventIDs), sasMaxEvents)
	}
	var ids []string
	for _, id := range in.EventIDs {
		if _, err := strconv.ParseInt(id, 10, 64); err != nil {
			return out, invalidInput("event id %q is not a Security Center event ID (a number)", id)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	params, markMiss := "", ""
	if len(in.OperationParams) > 0 {
		p := make(map[string]any, len(in.OperationParams))
		for k, v := range in.OperationParams {
			p[k] = v
		}
		if mm, ok := p["markMissParam"]; ok {
			b, err := json.Marshal(mm)
			if err != nil {
				return out, invalidInput("operation_params.markMissParam: %v", err)
			}
			markMiss = string(b)
			delete(p, "markMissParam")
		}
		if len(p) > 0 {
			b, err := json.Marshal(p)
			if err != nil {
				return out, invalidInput("operation_params: %v", err)
			}
			params = string(b)
		}
	}
	s, err := a.session(ctx, in.Cloud)
	if err != nil {
		return out, err
	}
	c, err := s.sas()
	if err != nil {
		return out, err
	}

	var details sasDetails
	resumed := previousDetails(ctx, &details) && details.TaskID != 0
	var plan []string
	if !resumed {
		var todo []string
		for _, id := range ids {
			ev, err := s.suspEvent(c, id)
			if err != nil {
				return out, err
			}
			if ev.Status != sasPending {
				plan = append(plan, planf("event %s (%s) is already dealt with (status %d)", id, ev.Name, ev.Status))
				continue
			}
			if err := a.checkSASOperation(ctx, in, ev); err != nil {
				return out, err
			}
			ok, err := s.operationOffered(c, id, in.Operation)
			if err != nil {
				return out, err
			}
			if !ok {
				return out, invalidInput("Security Center does not offer %s on event %s (%s)", in.Operation, id, ev.Name)
			}
			todo = append(todo, id)
			plan = append(plan, planf("%s event %s (%s)", in.Operation, id, ev.Name))
		}
		if len(todo) == 0 {
			out.Status = "already_handled"
			out.Outcome = outcome(in.Meta, false, plan)
			return out, nil
		}
		if in.Meta.DryRun {
			out.Outcome = outcome(in.Meta, false, plan)
			return out, nil
		}
		req := sas.CreateHandleSecurityEventsRequest()
		req.OperationCode = in.Operation
		req.SecurityEventIds = &todo
		req.OperationParams = params
		req.MarkMissParam = markMiss
		resp, err := c.HandleSecurityEvents(req)
		if err != nil {
			return out, classify("sas.HandleSecurityEvents", err)
		}
		details = sasDetails{TaskID: resp.HandleSecurityEventsResponseItem.TaskId, Events: todo}
		if details.TaskID == 0 {
			return out, fmt.Errorf("sas.HandleSecurityEvents: no task ID in the answer (request %s)", resp.RequestId)
		}
		heartbeat(ctx, details)
		s.log.Info("security events handling", "task_id", details.TaskID, "operation", in.Operation, "events", len(todo))
	}
	out.TaskID = strconv.FormatInt(details.TaskID, 10)

	var final sas.SecurityEventOperationStatusResponse
	err = a.pollUntil(ctx, "Security Center task "+out.TaskID, details, func() (bool, error) {
		req := sas.CreateDescribeSecurityEventOperationStatusRequest()
		req.TaskId = requests.NewInteger64(details.TaskID)
		req.SecurityEventIds = &details.Events
		resp, err := c.DescribeSecurityEventOperationStatus(req)
		if err != nil {
			return false, classify("sas.DescribeSecurityEventOperationStatus "+out.TaskID, err)
		}
		final = resp.SecurityEventOperationStatusResponse
		return final.TaskStatus != "" && final.TaskStatus != "Processing", nil
	})
	if err != nil {
		return out, err
	}
	out.Status = final.TaskStatus
	var failed []string
	for _, st := range final.SecurityEventOperationStatuses {
		if st.Status == "Success" {
			out.Handled = append(out.Handled, st.SecurityEventId)
		} else {
			failed = append(failed, fmt.Sprintf("%s: %s %s", st.SecurityEventId, st.Status, st.ErrorCode))
		}
	}
	out.Outcome = outcome(in.Meta, len(out.Handled) > 0, append(plan, planf("task %s: %s", out.TaskID, out.Status)))
	if out.Status != "Success" {
		return out, remoteFailed(fmt.Sprintf("Security Center task %s (%s) ended %s: %s", out.TaskID, in.Operation, out.Status, strings.Join(failed, "; ")), out)
	}
	return out, nil
}
