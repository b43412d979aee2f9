package alicloud

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opensoar/soar/internal/config"
)

// runKillAndQuarantine renders the shipped kill_and_quarantine template
// with pid and path as run_command sends it (shell-quoted parameters) and
// runs it with sh on this machine, its quarantine directory moved under
// dir. It returns the script's output, and fails the test unless the
// script exits with wantExit.
func runKillAndQuarantine(t *testing.T, dir string, pid int, path string, wantExit int) string {
	t.Helper()
	cmd, err := compileCommand("kill_and_quarantine", config.DefaultCommands()["kill_and_quarantine"])
	if err != nil {
		t.Fatal(err)
	}
	params, err := cmd.parameters(map[string]any{"pid": pid, "path": path})
	if err != nil {
		t.Fatal(err)
	}
	script := cmd.render(params)
	if !strings.Contains(script, "q=/var/lib/soar/quarantine;") {
		t.Fatalf("the template's quarantine directory moved; update the test:\n%s", script)
	}
	script = strings.Replace(script, "q=/var/lib/soar/quarantine;", "q="+shellQuote(filepath.Join(dir, "quarantine"))+";", 1)
	out, err := exec.Command("sh", "-c", script).CombinedOutput()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run the script: %v", err)
	}
	if code != wantExit {
		t.Fatalf("script exited %d, want %d\n%s\n--- script:\n%s", code, wantExit, out, script)
	}
	return string(out)
}

// startProcess runs the program at exe (sleeping) and returns it and a
// channel that reports how it ended.
func startProcess(t *testing.T, exe string) (*exec.Cmd, <-chan error) {
	t.Helper()
	p := exec.Command(exe, "60")
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	t.Cleanup(func() { _ = p.Process.Kill() })
	return p, done
}

func killedBySIGKILL(done <-chan error) bool {
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
				return ws.Signaled() && ws.Signal() == syscall.SIGKILL
			}
		}
		return false
	case <-time.After(5 * time.Second):
		return false
	}
}

// TestKillAndQuarantineChecksTheProcess runs the shipped template for real
// (Linux, /proc): a PID that runs another program (a stale PID reused) is
// not killed and the output says so, while the file is still quarantined;
// a PID that runs the file is killed and the file quarantined.
func TestKillAndQuarantineChecksTheProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	for _, tool := range []string{"sh", "readlink", "tr", "grep", "sha256sum", "sleep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	sleep, err = filepath.EvalSymlinks(sleep)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("stale PID: another program", func(t *testing.T) {
		dir := t.TempDir()
		webshell := filepath.Join(dir, "index.php")
		if err := os.WriteFile(webshell, []byte("<?php eval($_POST['x']);"), 0o644); err != nil {
			t.Fatal(err)
		}
		other, done := startProcess(t, sleep)
		out := runKillAndQuarantine(t, dir, other.Process.Pid, webshell, 3) // the process is left running
		want := fmt.Sprintf("not killed: process %d runs %s, not %s", other.Process.Pid, sleep, webshell)
		if !strings.Contains(out, want) || strings.Contains(out, "killed "+fmt.Sprint(other.Process.Pid)) {
			t.Errorf("output:\n%s\nwant %q and no kill", out, want)
		}
		select {
		case err := <-done:
			t.Errorf("the unrelated process ended: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := os.Stat(webshell); !os.IsNotExist(err) || !strings.Contains(out, "quarantined "+webshell) {
			t.Errorf("webshell still at %s (%v), output:\n%s\nwant it quarantined", webshell, err, out)
		}
	})

	t.Run("the process runs the file", func(t *testing.T) {
		dir := t.TempDir()
		miner := filepath.Join(dir, "kdevtmpfsi")
		data, err := os.ReadFile(sleep)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(miner, data, 0o755); err != nil {
			t.Fatal(err)
		}
		p, done := startProcess(t, miner)
		out := runKillAndQuarantine(t, dir, p.Process.Pid, miner, 0)
		if want := fmt.Sprintf("killed %d (%s)", p.Process.Pid, miner); !strings.Contains(out, want) || !killedBySIGKILL(done) {
			t.Errorf("output:\n%s\nwant %q and the process killed by SIGKILL", out, want)
		}
		entries, _ := os.ReadDir(filepath.Join(dir, "quarantine"))
		if _, err := os.Stat(miner); !os.IsNotExist(err) || len(entries) != 2 {
			t.Errorf("quarantine holds %d entries (want the file and the manifest); %s: %v", len(entries), miner, err)
		}
	})

	t.Run("no path to check against", func(t *testing.T) {
		other, done := startProcess(t, sleep)
		out := runKillAndQuarantine(t, t.TempDir(), other.Process.Pid, "", 3)
		if !strings.Contains(out, "not killed: no path to check process") {
			t.Errorf("output:\n%s\nwant the kill refused without a path", out)
		}
		select {
		case err := <-done:
			t.Errorf("the process ended: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	})
}

// TestQuarantineOnlyRegularFiles runs the shipped templates for real: an
// alert whose file.path is a directory or a symbolic link leaves it where
// it is (and what it points to) and says so, and a path with a ".."
// component is refused by the parameter pattern and, were it to get
// through, by the script.
func TestQuarantineOnlyRegularFiles(t *testing.T) {
	for _, tool := range []string{"sh", "sha256sum", "basename", "mkdir", "mv", "chmod", "date"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	if err := os.MkdirAll(filepath.Join(etc, "ssh"), 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "passwd")
	if err := os.WriteFile(target, []byte("root:x:0:0"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "index.php")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}

	out := runKillAndQuarantine(t, dir, 0, etc, 0)
	if fi, err := os.Stat(filepath.Join(etc, "ssh")); err != nil || !fi.IsDir() || !strings.Contains(out, "not quarantined: "+etc+" is not a regular file") {
		t.Errorf("directory %s after the quarantine: %v; output:\n%s\nwant it left alone and reported", etc, err, out)
	}
	out = runKillAndQuarantine(t, dir, 0, link, 0)
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 || !strings.Contains(out, "not quarantined: "+link+" is a symbolic link") {
		t.Errorf("symlink %s after the quarantine: %v; output:\n%s\nwant it left alone and reported", link, err, out)
	}
	if data, err := os.ReadFile(target); err != nil || string(data) != "root:x:0:0" {
		t.Errorf("link target %s = %q, %v; want it untouched", target, data, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "quarantine", "manifest")); !os.IsNotExist(err) {
		t.Errorf("quarantine manifest written (%v), want nothing quarantined", err)
	}

	for _, name := range []string{"kill_and_quarantine", "quarantine_file"} {
		cmd, err := compileCommand(name, config.DefaultCommands()[name])
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/var/www/../../etc", "/var/www/..", "/..", "/tmp//x", "/tmp/x/"} {
			if _, err := cmd.parameters(map[string]any{"path": p}); err == nil || !strings.Contains(err.Error(), "does not match the pattern") {
				t.Errorf("%s: path %q: err = %v, want refused by the pattern", name, p, err)
			}
		}
		for _, p := range []string{"/var/www/html/.x.php", "/tmp/..x", "/tmp/...", "/a/./b", "/var/www/html/x.php"} {
			if _, err := cmd.parameters(map[string]any{"path": p}); err != nil {
				t.Errorf("%s: path %q: %v, want accepted", name, p, err)
			}
		}
		sub := etc + "/ssh/.."
		script := cmd.render(map[string]string{"pid": "''", "path": shellQuote(sub)})
		script = strings.Replace(script, "q=/var/lib/soar/quarantine;", "q="+shellQuote(filepath.Join(dir, "quarantine"))+";", 1)
		out, err := exec.Command("sh", "-c", script).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "has a .. component") {
			t.Errorf("%s rendered with %s: %v, output:\n%s\nwant refused", name, sub, err, out)
		}
		if _, err := os.Stat(filepath.Join(etc, "ssh")); err != nil {
			t.Errorf("%s: %s gone: %v", name, etc, err)
		}
	}
}
