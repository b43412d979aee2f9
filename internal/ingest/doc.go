// Package ingest is the alert ingestor (the README's "Alerts" and "Scaling
// out" describe it from outside): a JetStream pull consumer that decodes
// each message into normalized alerts
// (internal/alert), matches them against the playbooks through a subject
// index and compiled trigger.when programs ([Matcher]), and delivers each
// alert to every matching playbook's incident through a [Starter]
// (UpdateWithStart in production, [TemporalStarter]).
//
// Acknowledgement rules:
//
//   - a message is acknowledged only after every matching incident accepted
//     every alert it holds; an alert that matches nothing is acknowledged
//     and counted;
//   - a transient failure of any delivery negatively acknowledges the
//     message with a growing delay; on redelivery every delivery runs again
//     and the incidents that already accepted it answer from their first
//     outcome (same UpdateID);
//   - an undecodable, oversized or invalid message, or one an incident
//     rejects permanently, is published to soar.dlq.<reason> with its
//     original payload and headers and then terminated;
//   - a message that exhausts MaxDeliver reaches soar.dlq.max_deliveries
//     through the JetStream advisory.
//
// [Reloader] keeps the matcher in step with a playbook directory, and
// [Metrics] exposes the counters on /metrics.
package ingest
