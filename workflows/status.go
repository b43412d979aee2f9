package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/opensoar/soar/activities"
)

// status builds the answer of the "status" Query: every step's state,
// pending approvals, alerts seen and reverts. It only reads state.
func (s *incident) status() Status {
	st := Status{
		Incident:   s.id,
		Playbook:   s.pb.Name,
		State:      s.soarState(),
		DryRun:     s.dryRun,
		AlertCount: s.Info.AlertCount,
		FirstSeen:  s.Info.FirstSeen,
		LastSeen:   s.Info.LastSeen,
		Error:      s.Info.Error,
	}
	for _, id := range s.order {
		sr := s.Steps[id]
		if s.isOnFailure(id) && sr.Status == activities.StatusPending {
			continue
		}
		st.Steps = append(st.Steps, s.stepStatus(sr))
	}
	for _, k := range workflow.DeterministicKeys(s.Gates) {
		g := s.Gates[k]
		st.Pending = append(st.Pending, PendingGate{
			Step: k, Message: g.Message, Approvers: g.Approvers, Quorum: g.Quorum, Approvals: approvals(g),
			Deadline: g.Deadline, OnTimeout: g.OnTimeout, Reason: g.Reason,
		})
	}
	st.Reverts = s.plannedReverts(s.Applied)
	return st
}

func (s *incident) stepStatus(sr *stepRun) StepStatus {
	ss := StepStatus{
		ID: sr.ID, Action: sr.Action, Status: sr.Status, Error: sr.Error, ApprovedBy: sr.ApprovedBy,
		StartedAt: sr.StartedAt, EndedAt: sr.EndedAt, Kind: sr.Kind, Gates: sr.Gates,
	}
	if !sr.Foreach {
		if len(sr.Units) == 1 {
			u := sr.Units[0]
			ss.Target, ss.Output = u.Target, u.Output
			ss.ApprovedBy = mergeNames(ss.ApprovedBy, u.ApprovedBy)
			if ss.Error == "" {
				ss.Error = u.Error
			}
		}
		return ss
	}
	ss.Items = len(sr.Units)
	outs := make([]any, len(sr.Units))
	for i, u := range sr.Units {
		outs[i] = u.Output
		ss.ItemStates = append(ss.ItemStates, ItemStatus{
			Index: u.Index, Item: u.Item, Status: u.Status, Target: u.Target, Error: u.Error,
			ApprovedBy: u.ApprovedBy, Output: u.Output,
		})
	}
	ss.Output = map[string]any{"items": outs}
	return ss
}

// result is the workflow's return value.
func (s *incident) result(ctx workflow.Context) Result {
	return Result{Status: s.status(), ClosedAt: workflow.Now(ctx)}
}
