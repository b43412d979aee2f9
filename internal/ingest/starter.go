package ingest

import (
	"context"
	"errors"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/playbook"
	"github.com/opensoar/soar/workflows"
)

// Starter delivers one alert to the incident of one playbook: it opens the
// incident or joins the open one. It must be idempotent per
// [Delivery.UpdateID]: JetStream delivers at least once, so the same
// delivery can arrive again (after a crash, a transient failure of another
// playbook, or a redelivery) and must be answered with the first outcome.
//
// An error wrapped with [Transient] is retried later (the message is
// negatively acknowledged with a delay); any other error is permanent and
// dead-letters the message.
type Starter interface {
	Deliver(ctx context.Context, d Delivery) (workflows.AlertAck, error)
}

// Delivery is one alert for one playbook's incident.
type Delivery struct {
	// Playbook is the snapshot the incident runs if this alert opens it.
	Playbook *playbook.Playbook
	// WorkflowID is workflows.IncidentID(playbook name, dedup key or alert id).
	WorkflowID string
	// UpdateID is "<alert id>/<playbook name>": unique per alert and
	// playbook, stable across redeliveries.
	UpdateID string
	// DedupKey is the evaluated dedup key, empty without dedup.
	DedupKey string
	// Severity is the playbook's severity expression evaluated on the
	// alert (the alert's severity without one); the initial SoarSeverity.
	Severity int
	Alert    alert.Alert
}

// NewDelivery builds the delivery of a to pb with the evaluated dedup key
// (empty without dedup): the workflow ID is workflows.IncidentID(pb.Name,
// key or the alert ID) and the UpdateID "<alert id>/<playbook>".
func NewDelivery(pb *playbook.Playbook, key string, a alert.Alert) Delivery {
	id := key
	if id == "" {
		id = a.ID
	}
	return Delivery{
		Playbook:   pb,
		WorkflowID: workflows.IncidentID(pb.Name, id),
		UpdateID:   a.ID + "/" + pb.Name,
		DedupKey:   key,
		Severity:   a.Severity,
		Alert:      a,
	}
}

// TransientError marks a delivery failure worth retrying: the Temporal
// frontend is unavailable, overloaded or timed out, the incident is closing.
type TransientError struct {
	Err error
}

func (e *TransientError) Error() string { return "transient: " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *TransientError) Unwrap() error { return e.Err }

// Transient wraps err as a [*TransientError]; nil stays nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &TransientError{Err: err}
}

// IsTransient reports whether err (or an error it wraps) is a
// [*TransientError], or a context deadline: both are retried.
func IsTransient(err error) bool {
	var te *TransientError
	return errors.As(err, &te) || errors.Is(err, context.DeadlineExceeded)
}
