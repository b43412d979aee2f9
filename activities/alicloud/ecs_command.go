package alicloud

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/opensoar/soar/activities"
)

const (
	// maxOutput is how much command output the action returns.
	maxOutput = 16 << 10
	// errorTail is how much of the output a failure's message carries.
	errorTail = 1 << 10
	// replayTolerance is how much earlier than our RunCommand call an
	// invocation must have started to count as a ClientToken replay of an
	// earlier run (clock skew between the worker and the cloud).
	replayTolerance = 5 * time.Second
)

// commandDetails is what run_command heartbeats: the invocation, so that a
// retried attempt polls it instead of starting another.
type commandDetails struct {
	InstanceID string `json:"instance_id"`
	InvokeID   string `json:"invoke_id"`
	CommandID  string `json:"command_id"`
}

// runningStatuses are the InvocationStatus values of an unfinished run.
var runningStatuses = []string{"", "Pending", "Running", "Stopping", "Scheduled"}

// ECSRunCommand runs an allow-listed Cloud Assistant template on an
// instance and waits for the result. Every parameter is checked against
// the template's pattern (whole value) and shell-quoted, then passed as a
// Cloud Assistant parameter; nothing from the playbook is spliced into the
// script. Protected instances need an approved step. A run that does not
// succeed with exit code 0 is a non-retryable RemoteFailed error carrying
// the output's tail (and the output as details).
func (a *Activities) ECSRunCommand(ctx context.Context, in activities.ECSRunCommandInput) (activities.ECSRunCommandOutput, error) {
	out := activities.ECSRunCommandOutput{InstanceID: in.InstanceID, Template: in.Template}
	if err := checkID("instance_id", in.InstanceID); err != nil {
		return out, err
	}
	cmd, ok := a.commands[in.Template]
	if !ok {
		return out, invalidInput("command template %q is not in soar.yaml (templates: %s)", in.Template, a.templateNames())
	}
	params, err := cmd.parameters(in.Params)
	if err != nil {
		return out, err
	}
	s, c, inst, err := a.guardedInstance(ctx, in.Meta, in.Cloud, in.InstanceID)
	if err != nil {
		return out, err
	}
	if strings.EqualFold(inst.OSType, "windows") {
		return out, invalidInput("command template %s is a shell script; instance %s runs Windows", cmd.name, inst.ID)
	}
	plan := []string{planf("run the template %s on %s:\n%s", cmd.name, inst.ID, truncate(cmd.render(params), 2048))}
	if in.Meta.DryRun {
		out.Outcome = outcome(in.Meta, false, plan)
		return out, nil
	}

	var details commandDetails
	resumed := previousDetails(ctx, &details) && details.InstanceID == inst.ID && details.InvokeID != ""
	sent := time.Now()
	if !resumed {
		req := ecs.CreateRunCommandRequest()
		req.InstanceId = &[]string{inst.ID}
		req.Type = "RunShellScript"
		req.CommandContent = cmd.script
		req.ContentEncoding = "PlainText"
		req.Timeout = requests.NewInteger(max(10, int(cmd.timeout/time.Second)))
		req.Name = "soar-" + cmd.name
		req.Description = description(in.Meta, 512)
		req.KeepCommand = requests.NewBoolean(false)
		req.ClientToken = clientToken(runID(ctx), in.Meta, "ecs.run_command", inst.ID, cmd.name, cmd.script, fmt.Sprint(sortedParams(params)))
		if len(params) > 0 {
			req.EnableParameter = requests.NewBoolean(true)
			req.Parameters = make(map[string]interface{}, len(params))
			for k, v := range params {
				req.Parameters[k] = v
			}
		}
		resp, err := c.RunCommand(req)
		if err != nil {
			return out, classify("ecs.RunCommand "+inst.ID, err)
		}
		details = commandDetails{InstanceID: inst.ID, InvokeID: resp.InvokeId, CommandID: resp.CommandId}
		heartbeat(ctx, details)
		s.log.Info("command started", "instance_id", inst.ID, "template", cmd.name, "invoke_id", resp.InvokeId)
	}
	out.InvokeID, out.CommandID = details.InvokeID, details.CommandID

	var result ecs.InvocationResult
	first := true
	replayed := false
	err = a.pollUntil(ctx, "command "+details.InvokeID, details, func() (bool, error) {
		r, err := s.invocationResult(c, details.InvokeID, inst.ID)
		if err != nil {
			return false, err
		}
		result = r
		if first {
			first = false
			// A ClientToken replay of a run that started well before this
			// call: the command ran once, for an earlier attempt of the step.
			if t, err := time.Parse(time.RFC3339, r.StartTime); err == nil && !resumed && t.Before(sent.Add(-replayTolerance)) {
				replayed = true
			}
		}
		return !slices.Contains(runningStatuses, r.InvocationStatus), nil
	})
	if err != nil {
		return out, err
	}
	output := decodeOutput(result.Output)
	out.Status = result.InvocationStatus
	out.ExitCode = int(result.ExitCode)
	out.Output = truncate(output, maxOutput)
	if out.CommandID == "" {
		out.CommandID = result.CommandId
	}
	out.Outcome = outcome(in.Meta, !replayed, append(plan, planf("%s on %s: %s, exit code %d", cmd.name, inst.ID, out.Status, out.ExitCode)))
	if out.Status != "Success" || out.ExitCode != 0 {
		msg := fmt.Sprintf("command %s on %s (invocation %s): %s, exit code %d", cmd.name, inst.ID, out.InvokeID, out.Status, out.ExitCode)
		if result.ErrorCode != "" {
			msg += fmt.Sprintf(", %s: %s", result.ErrorCode, oneLine(result.ErrorInfo))
		}
		if tail := tailOf(output, errorTail); tail != "" {
			msg += "; output tail:\n" + tail
		}
		return out, remoteFailed(msg, out)
	}
	return out, nil
}

// invocationResult reads one instance's result of an invocation.
func (s *session) invocationResult(c *ecs.Client, invokeID, instanceID string) (ecs.InvocationResult, error) {
	req := ecs.CreateDescribeInvocationResultsRequest()
	req.InvokeId = invokeID
	req.InstanceId = instanceID
	req.ContentEncoding = "Base64"
	resp, err := c.DescribeInvocationResults(req)
	if err != nil {
		return ecs.InvocationResult{}, classify("ecs.DescribeInvocationResults "+invokeID, err)
	}
	for _, r := range resp.Invocation.InvocationResults.InvocationResult {
		if r.InstanceId == instanceID {
			return r, nil
		}
	}
	// Results appear shortly after RunCommand: keep polling.
	return ecs.InvocationResult{InstanceId: instanceID, InvocationStatus: "Pending"}, nil
}

// decodeOutput decodes a Base64 command output; output that is not Base64
// is returned as it is.
func decodeOutput(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return s
	}
	return string(b)
}

// tailOf returns at most n bytes from the end of s.
func tailOf(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func sortedParams(p map[string]string) []string {
	out := make([]string, 0, len(p))
	for k, v := range p {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}
