// Package archtest enforces soar's dependency direction (DESIGN §3 and the
// style guide's depguard rules) as a plain test, so every `go test ./...`
// checks it without extra tools. It has no code of its own.
package archtest
