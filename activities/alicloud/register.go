package alicloud

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/opensoar/soar/activities"
)

// Actions returns every action (and inverse) this package implements, by
// its catalog name.
func (a *Activities) Actions() map[string]any {
	return map[string]any{
		activities.WAFBlockIP:              a.WAFBlockIP,
		activities.WAFUnblockIP:            a.WAFUnblockIP,
		activities.ECSBlockIP:              a.ECSBlockIP,
		activities.ECSUnblockIP:            a.ECSUnblockIP,
		activities.ECSIsolateInstance:      a.ECSIsolateInstance,
		activities.ECSRestoreInstance:      a.ECSRestoreInstance,
		activities.ECSSnapshotInstance:     a.ECSSnapshotInstance,
		activities.ECSStopInstance:         a.ECSStopInstance,
		activities.ECSStartInstance:        a.ECSStartInstance,
		activities.ECSRunCommand:           a.ECSRunCommand,
		activities.CloudFWBlockIP:          a.CloudFWBlockIP,
		activities.CloudFWUnblockIP:        a.CloudFWUnblockIP,
		activities.RAMDisableAccessKey:     a.RAMDisableAccessKey,
		activities.RAMEnableAccessKey:      a.RAMEnableAccessKey,
		activities.SASHandleEvent:          a.SASHandleEvent,
		activities.DDoSBlacklistIP:         a.DDoSBlacklistIP,
		activities.DDoSUnblacklistIP:       a.DDoSUnblacklistIP,
		activities.DDoSSetCCMode:           a.DDoSSetCCMode,
		activities.DDoSRestoreCCMode:       a.DDoSRestoreCCMode,
		activities.ActionTrailLookupEvents: a.ActionTrailLookupEvents,
	}
}

// Register registers every action under its catalog name (the activity
// type persisted in workflow history).
func (a *Activities) Register(r worker.ActivityRegistry) {
	for name, fn := range a.Actions() {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}
