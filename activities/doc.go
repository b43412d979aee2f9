// Package activities is the contract shared by the Incident workflow, the
// playbook validator and the workers: the action names, their input and
// output types, the action catalog and the error types that cross the
// activity boundary.
//
// It imports only the standard library. The implementations live in the
// subpackages (alicloud, notify, natspub); the workflow calls them by name.
//
// Action names and the JSON field names of the input and output types are
// persisted in workflow history: never rename one, only add.
package activities
