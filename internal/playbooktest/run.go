package playbooktest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/opensoar/soar/internal/alert"
	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/expr"
	"github.com/opensoar/soar/internal/playbook"
)

// DefaultCaseTimeout bounds the wall-clock time of one case.
const DefaultCaseTimeout = 30 * time.Second

// Options configures [RunFile].
type Options struct {
	// Config is the soar.yaml the cases run with (approvers, guardrails);
	// cases override parts of it with config:. Nil means config.Default().
	Config *config.Config
	// Env checks and evaluates CEL; nil builds one per call.
	Env *expr.Env
	// Logger receives the workflow test environment's log (debug level and
	// up); nil discards it.
	Logger *slog.Logger
	// Filter selects the cases to run by name; nil runs every case.
	Filter func(name string) bool
	// Decode turns a vendor payload received on subject into an alert; nil
	// means the ingestor's decoder, alert.Decode.
	Decode func(subject string, payload []byte, now time.Time) (alert.Alert, error)
	// Sample returns a sample's subject and payload by name; nil means the
	// built-in samples of `soar publish --sample` (alert.SampleByName).
	Sample func(name string) (subject string, payload []byte, ok bool)
	// SampleNames lists the samples for "did you mean" suggestions; nil
	// with a nil Sample means alert.SampleNames().
	SampleNames []string
	// CaseTimeout bounds the wall-clock time of one case; zero means
	// [DefaultCaseTimeout].
	CaseTimeout time.Duration
}

// FileResult is the outcome of one test file.
type FileResult struct {
	// File is the test file; PlaybookFile the playbook it tests and
	// Playbook its name ("" when it did not load).
	File         string
	PlaybookFile string
	Playbook     string
	// Diagnostics are the problems of the test file, and of the playbook
	// when it does not validate. Cases do not run when there is an error.
	Diagnostics playbook.Diagnostics
	// Cases are the results of the cases run, in file order.
	Cases []CaseResult
}

// Passed reports whether the file has no errors and every case passed.
func (r FileResult) Passed() bool { return !r.Diagnostics.HasErrors() && r.Failed() == 0 }

// Failed returns the number of cases that failed.
func (r FileResult) Failed() int {
	n := 0
	for _, c := range r.Cases {
		if !c.Passed {
			n++
		}
	}
	return n
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Name string
	// Pos is where the case is named in the test file.
	Pos    playbook.Position
	Passed bool
	// Failures say, one each, what differed from the expectation.
	Failures []string
	// Timeline is what the incident did, in workflow time order.
	Timeline []Entry
	// Report renders the failures (if any), the timeline and the final
	// state: what soar test prints for a failing case, or with -v.
	Report string
	// Elapsed is the wall-clock time the case took; Simulated the workflow
	// time from the first alert to the incident's end.
	Elapsed   time.Duration
	Simulated time.Duration
}

// Entry is one line of a case's timeline.
type Entry struct {
	// At is the workflow time since the first alert.
	At time.Duration
	// Kind is alert, call, revert, step, approval, vote, update, status,
	// note or closed.
	Kind string
	Text string
	seq  float64
}

// RunFile runs the cases of the playbook test file at path against the
// playbook beside it (x.test.yaml tests x.yaml, unless the file names its
// playbook with playbook:), each on its own Temporal test environment with
// time skipping. A test file or playbook with errors is returned as
// playbook.Diagnostics, also in the result; no case runs then. Failing
// cases are not an error: see [FileResult.Passed].
func RunFile(ctx context.Context, path string, opts Options) (FileResult, error) {
	res := FileResult{File: path}
	if opts.Env == nil {
		env, err := expr.NewEnv(expr.Options{})
		if err != nil {
			return res, fmt.Errorf("build the expression environment: %w", err)
		}
		opts.Env = env
	}
	if opts.Config == nil {
		cfg := config.Default()
		opts.Config = &cfg
	}
	if opts.Decode == nil {
		opts.Decode = func(subject string, payload []byte, now time.Time) (alert.Alert, error) {
			return alert.Decode(subject, payload, alert.DecodeOptions{Now: now})
		}
	}
	if opts.Sample == nil {
		opts.Sample = func(name string) (string, []byte, bool) {
			s, ok := alert.SampleByName(name)
			return s.Subject, s.Payload, ok
		}
		if opts.SampleNames == nil {
			opts.SampleNames = alert.SampleNames()
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		res.Diagnostics = playbook.Diagnostics{{Pos: playbook.Position{File: path}, Code: CodeReadError,
			Severity: playbook.SeverityError, Message: fmt.Sprintf("cannot read the test file: %v", unwrapPath(err))}}
		return res, res.Diagnostics
	}
	p := newParser(path, data)
	h, ok := p.parseHeader(data)
	if !ok {
		res.Diagnostics = sortDiagnostics(p.diags)
		return res, res.Diagnostics
	}
	res.PlaybookFile = h.playbook
	pb, pdiags := playbook.ParseFile(h.playbook, playbook.Options{Env: opts.Env, Config: opts.Config})
	t := target{names: opts.SampleNames, samples: func(name string) bool { _, _, ok := opts.Sample(name); return ok }}
	if pb == nil {
		at := p.pos(h.root)
		if pr, ok := h.fields["playbook"]; ok {
			at = p.pos(pr.val)
		}
		p.errorAt(at, CodeNoPlaybook, "the playbook %s does not load: %s", h.playbook, summarize(pdiags))
	} else {
		res.Playbook = pb.Name
		t.steps = pb.StepIDs()
	}
	sp := p.parseCases(h, t)
	res.Diagnostics = sortDiagnostics(p.diags)
	if pb == nil {
		res.Diagnostics = append(res.Diagnostics, pdiags...)
	}
	if res.Diagnostics.HasErrors() {
		return res, res.Diagnostics
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	prog, err := compileTrigger(opts.Env, pb, logger)
	if err != nil {
		return res, err
	}
	for _, c := range sp.cases {
		if opts.Filter != nil && !opts.Filter(c.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("run %s: %w", path, err)
		}
		res.Cases = append(res.Cases, runCase(ctx, pb, prog, c, opts))
	}
	return res, nil
}

// summarize says why a playbook did not load, in one line.
func summarize(ds playbook.Diagnostics) string {
	errs, _ := ds.Count()
	for _, d := range ds {
		if d.Severity == playbook.SeverityError {
			if errs == 1 {
				return d.String()
			}
			return fmt.Sprintf("%s (and %s more)", d.String(), plural(errs-1, "error"))
		}
	}
	return "no playbook"
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe interface{ Unwrap() error }
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		return pe.Unwrap()
	}
	return err
}

// sortDiagnostics sorts by position, then code and message.
func sortDiagnostics(ds playbook.Diagnostics) playbook.Diagnostics {
	slices.SortStableFunc(ds, func(a, b playbook.Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column), cmp.Compare(a.Code, b.Code), cmp.Compare(a.Message, b.Message))
	})
	return ds
}
