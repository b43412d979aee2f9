package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

func (s *Server) runCommand(rc *reqCtx) (obj, error) {
	p := rc.p
	ids := p.repeated("InstanceId")
	if len(ids) == 0 {
		return nil, errMissing("InstanceId.1")
	}
	if len(ids) > 100 {
		return nil, errForbidden("InstanceIds.ExceedLimit", "At most 100 instances may be given in one call.")
	}
	typ, err := p.required("Type")
	if err != nil {
		return nil, err
	}
	if !slices.Contains([]string{"RunShellScript", "RunBatScript", "RunPowerShellScript"}, typ) {
		return nil, errForbidden("InvalidCmdType.NotFound", fmt.Sprintf("The command type %q does not exist.", typ))
	}
	content, err := p.required("CommandContent")
	if err != nil {
		return nil, err
	}
	switch enc := firstNonEmpty(p.get("ContentEncoding"), "PlainText"); strings.ToLower(enc) {
	case "plaintext":
	case "base64":
		raw, err := base64.StdEncoding.DecodeString(content)
		if err != nil {
			return nil, errBadRequest("InvalidCommandContent.Malformed", "The CommandContent is not valid Base64.")
		}
		content = string(raw)
	default:
		return nil, errBadRequest("InvalidContentEncoding.ValueNotSupported", fmt.Sprintf("The ContentEncoding %q is not PlainText or Base64.", enc))
	}
	timeout, err := p.integerIn("Timeout", 60, 10, 86400)
	if err != nil {
		return nil, err
	}
	var parameters map[string]string
	if v := p.get("Parameters"); v != "" {
		if !p.boolean("EnableParameter") {
			return nil, errBadRequest("InvalidParameter.Parameters", "Parameters are given but EnableParameter is not true.")
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(v), &raw); err != nil {
			return nil, errBadRequest("InvalidParameter.Parameters", "The Parameters are not a JSON object.")
		}
		parameters = map[string]string{}
		for k, val := range raw {
			if str, ok := val.(string); ok {
				parameters[k] = str
			} else {
				b, _ := json.Marshal(val)
				parameters[k] = string(b)
			}
		}
	}
	var insts []*Instance
	for _, id := range ids {
		inst := findPtr(s.st.ECS.Instances, func(i *Instance) bool { return i.ID == id })
		if inst == nil {
			return nil, errNotFound("InvalidInstance.NotFound", fmt.Sprintf("The specified instance %q does not exist.", id))
		}
		if (inst.OSType == "windows") != (typ != "RunShellScript") {
			return nil, errForbidden("InvalidInstance.NotMatch", fmt.Sprintf("The command type %s does not match the OS of instance %s.", typ, id))
		}
		insts = append(insts, inst)
	}
	script := content
	if p.boolean("EnableParameter") {
		script = renderScript(content, parameters)
	}
	inv := Invocation{
		InvokeID:     s.nextID("t"),
		CommandID:    s.nextID("c"),
		Name:         p.get("Name"),
		Type:         typ,
		Content:      content,
		Parameters:   parameters,
		Timeout:      timeout,
		Username:     firstNonEmpty(p.get("Username"), "root"),
		WorkingDir:   p.get("WorkingDir"),
		CreationTime: rc.now,
	}
	for _, inst := range insts {
		r := InvocationResult{InstanceID: inst.ID, StartTime: rc.now}
		switch {
		case inst.CloudAssistant != "online":
			r.Status, r.ExitCode = "Failed", -1
			r.ErrorCode, r.ErrorInfo = "ClientNotRunning", "the Cloud Assistant agent is not running"
			r.FinishedTime = rc.now
		case inst.Status != "Running":
			r.Status, r.ExitCode = "Failed", -1
			r.ErrorCode, r.ErrorInfo = "InstanceNotRunning", "the instance is not running"
			r.FinishedTime = rc.now
		default:
			r.Status, r.Pending = "Running", s.startPending(rc.now)
			if r.Pending == nil {
				finishResult(&r, inst, script, rc)
			}
		}
		inv.Results = append(inv.Results, r)
	}
	s.st.ECS.Invocations = append(s.st.ECS.Invocations, inv)
	rc.changed = true
	return obj{"CommandId": inv.CommandID, "InvokeId": inv.InvokeID}, nil
}

// renderScript substitutes {{name}} parameters as Cloud Assistant does.
func renderScript(content string, parameters map[string]string) string {
	for _, k := range sortedKeys(parameters) {
		content = strings.ReplaceAll(content, "{{"+k+"}}", parameters[k])
		content = strings.ReplaceAll(content, "{{ "+k+" }}", parameters[k])
	}
	return content
}

// finishResult gives a running result the instance's scripted outcome:
// by default Success, exit code 0 and the rendered script as output.
func finishResult(r *InvocationResult, inst *Instance, script string, rc *reqCtx) {
	cmd := CommandResult{}
	if inst.Command != nil {
		cmd = *inst.Command
	}
	r.Status, r.ExitCode = cmd.Status, cmd.ExitCode
	if r.Status == "" {
		r.Status = "Success"
		if cmd.ExitCode != 0 {
			r.Status = "Failed"
		}
	}
	r.Output = cmd.Output
	if r.Output == "" {
		r.Output = "[sandbox] ran on " + inst.ID + ":\n" + script + "\n"
	}
	r.ErrorCode, r.ErrorInfo = cmd.ErrorCode, cmd.ErrorInfo
	if r.Status == "Failed" && r.ErrorCode == "" && r.ExitCode != 0 {
		r.ErrorCode, r.ErrorInfo = "ExitCodeNonzero", fmt.Sprintf("the command exited with code %d", r.ExitCode)
	}
	r.FinishedTime = rc.now
	rc.changed = true
}

func (s *Server) describeInvocationResults(rc *reqCtx) (obj, error) {
	p := rc.p
	invokeID, commandID, instanceID := p.get("InvokeId"), p.get("CommandId"), p.get("InstanceId")
	encoding := firstNonEmpty(p.get("ContentEncoding"), "Base64")
	if !strings.EqualFold(encoding, "Base64") && !strings.EqualFold(encoding, "PlainText") {
		return nil, errBadRequest("InvalidContentEncoding.ValueNotSupported", fmt.Sprintf("The ContentEncoding %q is not PlainText or Base64.", encoding))
	}
	pg, err := pageOf(p, 10, 50)
	if err != nil {
		return nil, err
	}
	var items []obj
	for i := range s.st.ECS.Invocations {
		inv := &s.st.ECS.Invocations[i]
		if !eqOrEmpty(invokeID, inv.InvokeID) || !eqOrEmpty(commandID, inv.CommandID) {
			continue
		}
		for j := range inv.Results {
			r := &inv.Results[j]
			if !eqOrEmpty(instanceID, r.InstanceID) {
				continue
			}
			if r.Status == "Running" && s.poll(&r.Pending, rc.now) {
				inst, _ := s.instance(r.InstanceID)
				if inst == nil {
					inst = &Instance{ID: r.InstanceID}
				}
				script := inv.Content
				if inv.Parameters != nil {
					script = renderScript(inv.Content, inv.Parameters)
				}
				finishResult(r, inst, script, rc)
			}
			record := recordStatus(r.Status, r.ErrorCode)
			if v := p.get("InvokeRecordStatus"); v != "" && v != record {
				continue
			}
			output := r.Output
			if strings.EqualFold(encoding, "Base64") {
				output = base64.StdEncoding.EncodeToString([]byte(output))
			}
			items = append(items, obj{
				"CommandId":          inv.CommandID,
				"InvokeId":           inv.InvokeID,
				"InstanceId":         r.InstanceID,
				"InvocationStatus":   r.Status,
				"InvokeRecordStatus": record,
				"ExitCode":           r.ExitCode,
				"Output":             output,
				"Dropped":            0,
				"ErrorCode":          r.ErrorCode,
				"ErrorInfo":          r.ErrorInfo,
				"StartTime":          isoTime(r.StartTime),
				"FinishedTime":       isoTime(r.FinishedTime),
				"StopTime":           "",
				"Repeats":            1,
				"Username":           inv.Username,
				"Tags":               obj{"Tag": []obj{}},
			})
		}
	}
	inv := pg.meta(len(items))
	inv["InvocationResults"] = obj{"InvocationResult": orEmpty(pageSlice(pg, items))}
	return obj{"Invocation": inv}, nil
}

// recordStatus derives InvokeRecordStatus from a per-instance status.
func recordStatus(status, errorCode string) string {
	switch status {
	case "Running", "Pending":
		return "Running"
	case "Failed":
		if errorCode == "ClientNotRunning" || errorCode == "InstanceNotRunning" {
			return "Failed"
		}
	}
	return "Finished"
}
