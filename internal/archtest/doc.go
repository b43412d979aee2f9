// Package archtest enforces soar's dependency direction (the rules in
// arch_test.go: only internal/devstack links the Temporal server, only
// activities/alicloud the cloud SDK, workflows no I/O packages, …) as a
// plain test, so every `go test ./...` checks it without extra tools. It
// has no code of its own.
package archtest
