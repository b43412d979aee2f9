// Package deploy holds the container and Kubernetes files of soar. No Docker
// engine or cluster runs in CI, so these tests check the files by parsing
// them: they are valid YAML, reference files that exist, run soar
// subcommands with flags soar has, carry a soar.yaml that soar accepts, and
// register the search attributes the workflow uses.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/workflows"
)

// soarFlags are the flags deploy files may pass to each subcommand.
var soarFlags = map[string][]string{
	"worker": {"--config", "--temporal-addr", "--namespace", "--nats-url"},
	"ingest": {"--config", "--temporal-addr", "--namespace", "--nats-url", "--metrics-addr", "--playbooks"},
}

func checkSoarArgs(t *testing.T, where string, args []string) {
	t.Helper()
	if len(args) == 0 {
		t.Errorf("%s: no soar subcommand", where)
		return
	}
	flags, ok := soarFlags[args[0]]
	if !ok {
		t.Errorf("%s: soar %s is not a subcommand a deployment runs (want worker or ingest)", where, args[0])
		return
	}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") {
			name, _, _ := strings.Cut(a, "=")
			if !slices.Contains(flags, name) {
				t.Errorf("%s: soar %s has no flag %s", where, args[0], name)
			}
		}
	}
}

func checkSoarYAML(t *testing.T, where string, data []byte) {
	t.Helper()
	if _, err := config.Parse(data); err != nil {
		t.Errorf("%s: soar rejects this soar.yaml:\n%v", where, err)
	}
}

func TestCompose(t *testing.T) {
	data, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image   string            `yaml:"image"`
			Build   map[string]string `yaml:"build"`
			Command any               `yaml:"command"`
			Volumes []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, want := range []string{"postgresql", "temporal", "temporal-ui", "temporal-setup", "nats-1", "nats-2", "nats-3", "soar-worker", "soar-ingest"} {
		if _, ok := compose.Services[want]; !ok {
			t.Errorf("docker-compose.yml: service %s missing", want)
		}
	}
	for _, name := range []string{"soar-worker", "soar-ingest"} {
		s := compose.Services[name]
		args, ok := s.Command.([]any)
		if !ok {
			t.Errorf("%s: command is %T, want a list", name, s.Command)
			continue
		}
		var strs []string
		for _, a := range args {
			strs = append(strs, a.(string))
		}
		checkSoarArgs(t, "docker-compose.yml "+name, strs)
		if df := s.Build["dockerfile"]; df != "deploy/Dockerfile" {
			t.Errorf("%s: dockerfile %q, want deploy/Dockerfile", name, df)
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if _, err := os.Stat(src); err != nil {
				t.Errorf("%s: volume source %s: %v", name, src, err)
			}
		}
	}
	// The setup job must create every search attribute the workflow upserts.
	setup, _ := compose.Services["temporal-setup"].Command.([]any)
	script := ""
	for _, s := range setup {
		script += s.(string)
	}
	for _, sa := range []string{workflows.SearchAttrPlaybook, workflows.SearchAttrState, workflows.SearchAttrSeverity, workflows.SearchAttrTarget, workflows.SearchAttrAlertType} {
		if !strings.Contains(script, sa+":") {
			t.Errorf("temporal-setup does not create the search attribute %s", sa)
		}
	}
	soarYAML, err := os.ReadFile("soar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checkSoarYAML(t, "deploy/soar.yaml", soarYAML)
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)`).FindSubmatch(gomod)
	if goVersion == nil || !bytes.Contains(data, []byte("FROM golang:"+string(goVersion[1]))) {
		t.Errorf("Dockerfile does not build with the go.mod Go version %s", goVersion[1])
	}
	m := regexp.MustCompile(`go build .* (\./cmd/\S+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("Dockerfile has no go build of ./cmd/...")
	}
	if _, err := os.Stat(filepath.Join("..", string(m[1]), "main.go")); err != nil {
		t.Errorf("Dockerfile builds %s: %v", m[1], err)
	}
	if !bytes.Contains(data, []byte("CGO_ENABLED=0")) {
		t.Error("Dockerfile must build a static binary (CGO_ENABLED=0) for the distroless image")
	}
}

func TestKubernetes(t *testing.T) {
	data, err := os.ReadFile("kubernetes/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(data, &kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	kinds := map[string]int{}
	for _, res := range kust.Resources {
		f, err := os.Open(filepath.Join("kubernetes", res))
		if err != nil {
			t.Errorf("kustomization resource %s: %v", res, err)
			continue
		}
		dec := yaml.NewDecoder(f)
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", res, err)
			}
			kind, _ := doc["kind"].(string)
			kinds[kind]++
			checkManifest(t, res, kind, doc)
		}
		f.Close()
	}
	if kinds["Deployment"] != 2 || kinds["ConfigMap"] != 1 {
		t.Errorf("manifests hold %v, want 2 Deployments (worker, ingest) and 1 ConfigMap", kinds)
	}
}

func checkManifest(t *testing.T, file, kind string, doc map[string]any) {
	t.Helper()
	switch kind {
	case "ConfigMap":
		data, _ := doc["data"].(map[string]any)
		soarYAML, ok := data["soar.yaml"].(string)
		if !ok {
			t.Errorf("%s: ConfigMap without data.soar.yaml", file)
			return
		}
		checkSoarYAML(t, file+" soar.yaml", []byte(soarYAML))
	case "Deployment":
		spec := doc["spec"].(map[string]any)
		sel := spec["selector"].(map[string]any)["matchLabels"].(map[string]any)
		tmpl := spec["template"].(map[string]any)
		labels := tmpl["metadata"].(map[string]any)["labels"].(map[string]any)
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("%s: selector %s=%v does not match the pod labels %v", file, k, v, labels)
			}
		}
		containers := tmpl["spec"].(map[string]any)["containers"].([]any)
		for _, c := range containers {
			var args []string
			for _, a := range c.(map[string]any)["args"].([]any) {
				args = append(args, a.(string))
			}
			checkSoarArgs(t, file, args)
		}
	}
}
