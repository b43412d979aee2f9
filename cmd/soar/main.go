// Command soar is the SOAR playbook engine: one binary whose subcommands run
// the whole engine in one process (dev), its scaled-out parts (worker,
// ingest), and the tools of playbook authors and analysts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"github.com/opensoar/soar/internal/playbook"
)

// version is set at build time with -ldflags "-X main.version=…"; empty
// (or "dev", the Dockerfile's default) means the module's build information
// tells.
var version string

// env is what every subcommand gets: its arguments and the process's streams.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// getenv reads the environment; tests replace it.
	getenv func(string) string
}

// command is one subcommand.
type command struct {
	// summary is one line for `soar help`.
	summary string
	// run runs the subcommand with the arguments after its name.
	run func(ctx context.Context, e *env, args []string) error
}

// exitError carries an exit status without a message of its own: the
// command already printed what went wrong.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func commands() map[string]command {
	return map[string]command{
		"version":   {"print the version", runVersion},
		"actions":   {"list the actions playbooks can use, with parameters and RAM permissions", runActions},
		"validate":  {"check playbooks and print every problem with file:line:col", runValidate},
		"sandbox":   {"run the sandbox cloud: an Alibaba Cloud API emulator for trying playbooks", runSandbox},
		"test":      {"run playbook tests (*.test.yaml) offline, with time skipping", runTest},
		"worker":    {"run a Temporal worker: the Incident workflow and every action", runWorker},
		"dev":       {"run the whole engine in one process: NATS, Temporal + UI, sandbox cloud, worker, ingest", runDev},
		"approve":   {"approve or reject a step an incident waits for (the \"approve\" Update)", runApprove},
		"incidents": {"list incidents, or show one with its steps, approvals and reverts", runIncidents},
		"bench":     {"measure soar dev: start-up time (cold, warm) and memory with open incidents", runBench},
		"ingest":    {"consume alerts from NATS JetStream and open or join incidents (UpdateWithStart)", runIngest},
		"publish":   {"publish an alert or a built-in sample to NATS JetStream (--sample NAME)", runPublish},
		"normalize": {"print the normalized alert CEL sees, or why it would be dead-lettered", runNormalize},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal asks for a clean shutdown; once it has arrived the
	// default handling is restored, so a second one ends soar at once.
	context.AfterFunc(ctx, stop)
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	err := run(ctx, e, os.Args[1:])
	stop()
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "soar: %v\n", err)
		os.Exit(1)
	}
}

// run dispatches to the subcommand named by args[0].
func run(ctx context.Context, e *env, args []string) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if c, ok := cmds[args[1]]; ok {
				return c.run(ctx, e, []string{"--help"})
			}
		}
		usage(e.stdout, cmds)
		return nil
	}
	name := args[0]
	if name == "-v" || name == "--version" || name == "-version" {
		name, args = "version", args[:1]
	}
	c, ok := cmds[name]
	if !ok {
		return fmt.Errorf("unknown command %q%s; run 'soar help' for the list", name, playbook.DidYouMean(name, keys(cmds)))
	}
	return c.run(ctx, e, args[1:])
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "soar — SOAR playbook engine for Alibaba Cloud")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: soar <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, name := range keys(cmds) {
		fmt.Fprintf(w, "  %-10s %s\n", name, cmds[name].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'soar <command> --help' for a command's flags; soar --version prints the version.")
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints a usage line plus the flags.
func newFlagSet(e *env, name, argsUsage, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: soar %s [flags] %s\n\n%s\n", name, argsUsage, description)
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(e.stderr, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, accepting flags after positional arguments too
// (soar validate playbooks --format json). --help prints the usage; a wrong
// flag is answered in one line with a suggestion and a pointer to --help
// (exit status 2), not with the whole usage.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	defer func() { fs.Usage = usage; fs.SetOutput(out) }()
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			fs.SetOutput(out)
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return nil, err
			}
			return nil, usageError(fs, flagProblem(fs, err))
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// flagProblem rewrites an error of the flag package in soar's spelling of
// flags (--name) and suggests the nearest flag for an unknown one.
func flagProblem(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		hint := ""
		if c := playbook.Closest(name, names); c != "" {
			hint = " (did you mean --" + c + "?)"
		}
		return "unknown flag --" + name + hint
	}
	return flagNameRE.ReplaceAllString(msg, "flag --$1")
}

// flagNameRE matches the flag package's "flag -name" in its messages.
var flagNameRE = regexp.MustCompile(`flag -([A-Za-z0-9][A-Za-z0-9_.-]*)`)

// parseNoArgs parses the flags of a command that takes no positional
// arguments, and refuses any as a usage error.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError(fs, "takes no arguments, got "+strings.Join(rest, " "))
	}
	return nil
}

// usageError reports a wrong use of the command of fs (missing or extra
// arguments) on its output, points at --help, and exits with status 2.
func usageError(fs *flag.FlagSet, msg string) error {
	fmt.Fprintf(fs.Output(), "soar %s: %s\nRun 'soar %s --help' for usage.\n", fs.Name(), msg, fs.Name())
	return exitError{code: 2}
}

func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "version", "", "Print the version of soar: the release (or module version), the commit it was built from and the Go version.")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(e.stdout, versionString(version, info))
	return nil
}

// versionString describes a build in one line, e.g.
//
//	soar v1.4.0 (commit 91d977a1b2c3, 2026-11-29T05:15:43Z; go1.26.8 linux/amd64)
//	soar development build (commit 91d977a1b2c3, 2026-11-29T05:15:43Z, modified; go1.26.8 linux/amd64)
//
// stamp is main.version; info may be nil.
func versionString(stamp string, info *debug.BuildInfo) string {
	v := stamp
	if v == "dev" {
		v = ""
	}
	settings := map[string]string{}
	goVersion := runtime.Version()
	if info != nil {
		if v == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
	}
	if v == "" {
		v = "development build"
	}
	var details []string
	if rev := settings["vcs.revision"]; rev != "" {
		details = append(details, "commit "+rev[:min(len(rev), 12)])
	}
	if t := settings["vcs.time"]; t != "" {
		details = append(details, t)
	}
	if settings["vcs.modified"] == "true" {
		details = append(details, "modified")
	}
	platform := goVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
	if len(details) == 0 {
		return fmt.Sprintf("soar %s (%s)", v, platform)
	}
	return fmt.Sprintf("soar %s (%s; %s)", v, strings.Join(details, ", "), platform)
}
