// Package devstack runs soar's whole substrate in one process, the way
// `temporal server start-dev` does for Temporal: an embedded NATS server with
// JetStream, the Temporal server (frontend, history, matching and worker
// services) on SQLite, and the Temporal UI server.
//
// It is the only package that links go.temporal.io/server and
// github.com/temporalio/ui-server; everything else dials the
// stack through the SDK and nats.go exactly as it would dial a cluster.
//
// State lives in [Options.DataDir]: JetStream's file store in nats/ and the
// Temporal database in temporal.db (SQLite in WAL mode). A restart on the
// same directory keeps workflows, histories and streams.
//
// [Start] returns once every part answers: NATS accepts connections, the
// namespace exists with soar's search attributes and retention, and the UI
// answers /api/v1/settings. [Stack.Stop] shuts everything down.
package devstack
