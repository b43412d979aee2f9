package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opensoar/soar/workflows"
)

// analystFlags are the connection flags of the analyst commands (approve,
// incidents): which soar.yaml, and the Temporal address and namespace that
// override it (read with connFlags.load), and how long to wait.
type analystFlags struct {
	connFlags
	timeout *time.Duration
}

func addAnalystFlags(fs *flag.FlagSet) analystFlags {
	return analystFlags{
		connFlags: connFlags{
			config:       fs.String("config", "", "soar.yaml with the Temporal address, namespace, TLS and API key (default: the built-in config)"),
			temporalAddr: fs.String("temporal-addr", "", "Temporal frontend host:port (default: temporal.address of the config, 127.0.0.1:7233)"),
			namespace:    fs.String("namespace", "", "Temporal namespace (default: temporal.namespace of the config, default)"),
			natsURL:      new(string), // no --nats-url: the analyst commands talk to Temporal only
		},
		timeout: fs.Duration("timeout", 30*time.Second, "how long to wait for Temporal and the worker"),
	}
}

// cliArgs are the flags to repeat in a suggested command so that it reaches
// the same Temporal: "" when everything is default.
func (f analystFlags) cliArgs() string {
	var b strings.Builder
	if *f.config != "" {
		fmt.Fprintf(&b, " --config %s", shellQuote(*f.config))
	}
	if *f.temporalAddr != "" {
		fmt.Fprintf(&b, " --temporal-addr %s", shellQuote(*f.temporalAddr))
	}
	if *f.namespace != "" {
		fmt.Fprintf(&b, " --namespace %s", shellQuote(*f.namespace))
	}
	return b.String()
}

func runApprove(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "approve", "INCIDENT STEP",
		"Approve (or with --reject, reject) the approval a step of an incident waits for, by\n"+
			"sending the incident's \"approve\" Update. The incident's validator checks that the\n"+
			"step is waiting, that --by is one of its approvers and has not voted yet; its answer\n"+
			"is printed. Exit status 1 when the vote is refused.\n\n"+
			"INCIDENT is the workflow ID (soar incidents lists them), STEP the step ID, or\n"+
			"<step>#<index> for one item of a foreach step.")
	by := fs.String("by", "", "your user name, as listed in the approvers of soar.yaml (required)")
	reject := fs.Bool("reject", false, "reject instead of approve")
	comment := fs.String("comment", "", "a comment recorded with the vote")
	af := addAnalystFlags(fs)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 2 {
		return usageError(fs, fmt.Sprintf("approve needs INCIDENT and STEP, got %d argument(s); e.g. soar approve compromised-host.i-bp1sandboxweb01 isolate --by analyst", len(rest)))
	}
	if strings.TrimSpace(*by) == "" {
		return errors.New("--by is required: the user name you approve as (e.g. --by analyst)")
	}
	cfg, err := af.load(e.getenv)
	if err != nil {
		return err
	}
	req := workflows.ApproveRequest{Step: rest[1], Decision: workflows.DecisionApprove, By: *by, Comment: *comment}
	if *reject {
		req.Decision = workflows.DecisionReject
	}

	ctx, cancel := context.WithTimeout(ctx, *af.timeout)
	defer cancel()
	c, err := dialTemporal(ctx, cfg.Temporal, e.getenv, discardLogger())
	if err != nil {
		return err
	}
	defer c.Close()

	res, err := sendApproval(ctx, c, rest[0], req)
	var refused *approvalRefusedError
	switch {
	case errors.As(err, &refused):
		fmt.Fprintf(e.stderr, "refused: %s\n", refused.reason)
		return exitError{code: 1}
	case err != nil:
		return err
	}
	printApproval(e.stdout, rest[0], req, res)
	return nil
}

// approvalRefusedError is the incident's answer to a vote it does not
// accept: the validator's (or handler's) reason.
type approvalRefusedError struct{ reason string }

func (e *approvalRefusedError) Error() string { return "approval refused: " + e.reason }

// sendApproval sends the approve Update to the incident and waits until the
// handler completed. The incident's refusal is an [*approvalRefusedError];
// other errors say what failed on the way.
func sendApproval(ctx context.Context, c client.Client, incident string, req workflows.ApproveRequest) (workflows.ApproveResult, error) {
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   incident,
		UpdateName:   workflows.UpdateApprove,
		Args:         []any{req},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		var res workflows.ApproveResult
		if err = h.Get(ctx, &res); err == nil {
			return res, nil
		}
	}
	return workflows.ApproveResult{}, approvalError(ctx, incident, err)
}

// approvalError turns an Update error into what the analyst needs to read.
func approvalError(ctx context.Context, incident string, err error) error {
	var (
		appErr   *temporal.ApplicationError
		notFound *serviceerror.NotFound
	)
	switch {
	case errors.As(err, &appErr):
		return &approvalRefusedError{reason: appErr.Message()}
	case errors.As(err, &notFound):
		return &approvalRefusedError{reason: fmt.Sprintf("incident %s is not running (unknown, or already closed); soar incidents lists them", incident)}
	case ctx.Err() != nil:
		return fmt.Errorf("approve on %s: no answer in time (is a soar worker running?): %w", incident, err)
	}
	return fmt.Errorf("approve on %s: %w", incident, err)
}

// printApproval writes the accepted vote and where the gate stands.
func printApproval(w io.Writer, incident string, req workflows.ApproveRequest, res workflows.ApproveResult) {
	verb := "approved"
	if req.Decision == workflows.DecisionReject {
		verb = "rejected"
	}
	fmt.Fprintf(w, "%s step %s of %s as %s: %d of %d approval(s), outcome %s\n",
		verb, res.Step, incident, req.By, res.Approvals, res.Quorum, res.Outcome)
	if res.Outcome == workflows.OutcomePending {
		fmt.Fprintf(w, "waiting for %d more approval(s)\n", max(res.Quorum-res.Approvals, 0))
	}
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@#=+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
