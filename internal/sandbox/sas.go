package sandbox

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sasProduct is Security Center (Sas), version 2018-12-03. Every SAS call
// is a POST; DescribeSuspEvents sends TacticId in the form body.
func sasProduct() *product {
	return &product{
		name: "Sas", version: "2018-12-03", host: "tds.aliyuncs.com",
		actions: map[string]handler{
			"DescribeSuspEvents":                   (*Server).sasDescribeSuspEvents,
			"DescribeSecurityEventOperations":      (*Server).sasDescribeSecurityEventOperations,
			"HandleSecurityEvents":                 (*Server).sasHandleSecurityEvents,
			"DescribeSecurityEventOperationStatus": (*Server).sasDescribeSecurityEventOperationStatus,
		},
	}
}

// sasOperations are the operation codes offered for an event by default.
func sasOperations() []string {
	return []string{"offline_handled", "kill_and_quara", "virus_quara", "block_ip", "mark_mis_info", "deal", "ignore"}
}

// Event statuses (EventStatus).
const (
	sasPending       = 1
	sasIgnored       = 2
	sasFalsePositive = 8
	sasHandling      = 16
	sasHandled       = 32
	sasExpired       = 64
)

// sasDone reports whether an event can no longer be handled.
func sasDone(status int) bool {
	return status == sasIgnored || status == sasFalsePositive || status == sasHandled || status == sasExpired || status == sasHandling
}

// chinaTime formats as the SAS console does: local time in UTC+8.
func chinaTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05")
}

func sasEventJSON(ev SASEvent) obj {
	stages, _ := json.Marshal(orEmpty(ev.Stages))
	var tactics []obj
	for _, id := range sortedKeys(ev.Tactics) {
		tactics = append(tactics, obj{"TacticId": id, "TacticDisplayName": ev.Tactics[id]})
	}
	var details []obj
	for _, d := range ev.Details {
		details = append(details, obj{"Name": d.Name, "NameDisplay": d.Name, "Type": firstNonEmpty(d.Type, "text"),
			"InfoType": d.InfoType, "Value": d.Value, "ValueDisplay": d.Value})
	}
	last := ev.LastTime
	if last.IsZero() {
		last = ev.OccurrenceTime
	}
	var operateTime int64
	if !ev.OperateTime.IsZero() {
		operateTime = ev.OperateTime.UnixMilli()
	}
	return obj{
		"Id":                    ev.ID,
		"SecurityEventIds":      strconv.FormatInt(ev.ID, 10),
		"UniqueInfo":            ev.UniqueInfo,
		"AlarmUniqueInfo":       ev.UniqueInfo,
		"Uuid":                  ev.UUID,
		"InstanceId":            ev.InstanceID,
		"InstanceName":          ev.InstanceName,
		"InternetIp":            ev.InternetIP,
		"IntranetIp":            ev.IntranetIP,
		"Level":                 ev.Level,
		"Name":                  ev.Name,
		"AlarmEventName":        ev.Name,
		"AlarmEventNameDisplay": ev.Name,
		"AlarmEventType":        ev.Type,
		"AlarmEventTypeDisplay": ev.Type,
		"EventSubType":          ev.SubType,
		"DataSource":            ev.DataSource,
		"EventStatus":           ev.Status,
		"OccurrenceTime":        chinaTime(ev.OccurrenceTime),
		"OccurrenceTimeStamp":   ev.OccurrenceTime.UnixMilli(),
		"LastTime":              chinaTime(last),
		"LastTimeStamp":         last.UnixMilli(),
		"CanBeDealOnLine":       !sasDone(ev.Status),
		"CanCancelFault":        ev.Status == sasFalsePositive,
		"HasTraceInfo":          true,
		"AutoBreaking":          false,
		"Advanced":              false,
		"Stages":                string(stages),
		"TacticItems":           orEmpty(tactics),
		"Details":               orEmpty(details),
		"EventNotes":            []obj{},
		"OperateErrorCode":      ev.OperateErrorCode,
		"OperateMsg":            ev.OperateMsg,
		"OperateTime":           operateTime,
		"SaleVersion":           "3",
	}
}

func (s *Server) sasDescribeSuspEvents(rc *reqCtx) (obj, error) {
	p := rc.p
	id, err := p.int64("Id")
	if err != nil {
		return nil, err
	}
	page, err := p.integerIn("CurrentPage", 1, 1, 1<<30)
	if err != nil {
		return nil, err
	}
	size, err := p.integerIn("PageSize", 20, 1, 100)
	if err != nil {
		return nil, err
	}
	levels, uuids, names, statuses := p.csv("Levels"), p.csv("Uuids"), p.csv("EventNames"), p.csv("Status")
	dealed, remark := p.get("Dealed"), p.get("Remark")
	var match []obj
	for _, ev := range s.st.SAS.Events {
		handled := ev.Status != sasPending
		ok := (id == 0 || ev.ID == id) &&
			(len(levels) == 0 || slices.Contains(levels, ev.Level)) &&
			(len(uuids) == 0 || slices.Contains(uuids, ev.UUID)) &&
			(len(names) == 0 || slices.Contains(names, ev.Name)) &&
			(len(statuses) == 0 || slices.Contains(statuses, strconv.Itoa(ev.Status))) &&
			(dealed == "" || (dealed == "Y") == handled) &&
			eqOrEmpty(p.get("UniqueInfo"), ev.UniqueInfo) &&
			eqOrEmpty(p.get("AlarmUniqueInfo"), ev.UniqueInfo) &&
			(p.get("Name") == "" || strings.Contains(ev.Name, p.get("Name"))) &&
			(p.get("TacticId") == "" || ev.Tactics[p.get("TacticId")] != "") &&
			(remark == "" || strings.Contains(ev.Name, remark) || strings.Contains(ev.InstanceName, remark) ||
				ev.InstanceID == remark || ev.InternetIP == remark || ev.IntranetIP == remark)
		if ok {
			match = append(match, sasEventJSON(ev))
		}
	}
	lo := min((page-1)*size, len(match))
	items := orEmpty(match[lo:min(lo+size, len(match))])
	return obj{"TotalCount": len(match), "CurrentPage": page, "PageSize": size, "Count": len(items), "SuspEvents": items}, nil
}

// sasEvent returns the live event with the given ID.
func (s *Server) sasEvent(raw string) (*SASEvent, error) {
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, errInvalid("SecurityEventId", raw)
	}
	ev := findPtr(s.st.SAS.Events, func(e *SASEvent) bool { return e.ID == id })
	if ev == nil {
		return nil, errNotFound("InvalidSecurityEventId.NotFound", fmt.Sprintf("The security event %d does not exist.", id))
	}
	return ev, nil
}

// canOperate reports whether op is offered on the event now.
func canOperate(ev *SASEvent, op string) bool {
	ops := ev.Operations
	if len(ops) == 0 {
		ops = sasOperations()
	}
	return !sasDone(ev.Status) && slices.Contains(ops, op)
}

func (s *Server) sasDescribeSecurityEventOperations(rc *reqCtx) (obj, error) {
	raw, err := rc.p.required("SecurityEventId")
	if err != nil {
		return nil, err
	}
	ev, err := s.sasEvent(raw)
	if err != nil {
		return nil, err
	}
	var ops []obj
	for _, op := range sasOperations() {
		entry := obj{
			"OperationCode":    op,
			"UserCanOperate":   canOperate(ev, op),
			"OperationParams":  "",
			"MarkField":        []obj{},
			"MarkFieldsSource": []obj{},
			"SupportedMisType": []string{},
		}
		switch op {
		case "block_ip":
			entry["OperationParams"] = `{"expireTime":0}`
		case "kill_and_quara":
			entry["OperationParams"] = `{"subOperation":"killAndQuaraFileByMd5andPath"}`
		case "mark_mis_info":
			var fields []obj
			for _, d := range ev.Details {
				fields = append(fields, obj{"FiledName": d.Name, "FiledAliasName": d.Name, "MarkMisValue": d.Value,
					"MarkMisType": "equals", "SupportedMisType": []string{"equals", "contains"}})
			}
			entry["MarkField"] = orEmpty(fields)
		}
		ops = append(ops, entry)
	}
	return obj{"SecurityEventOperationsResponse": ops}, nil
}

func (s *Server) sasHandleSecurityEvents(rc *reqCtx) (obj, error) {
	op, err := rc.p.required("OperationCode")
	if err != nil {
		return nil, err
	}
	if !slices.Contains(sasOperations(), op) {
		return nil, errBadRequest("InvalidParameter.OperationCode", fmt.Sprintf("The OperationCode %q is not supported.", op))
	}
	ids := rc.p.repeated("SecurityEventIds")
	if len(ids) == 0 {
		return nil, errMissing("SecurityEventIds.1")
	}
	if len(ids) > 100 {
		return nil, errBadRequest("InvalidParameter.SecurityEventIds", "At most 100 events may be handled in one call.")
	}
	params := rc.p.get("OperationParams")
	if params != "" && !json.Valid([]byte(params)) {
		return nil, errBadRequest("InvalidParameter.OperationParams", "The OperationParams are not JSON.")
	}
	var events []*SASEvent
	for _, raw := range dedupe(ids) {
		ev, err := s.sasEvent(raw)
		if err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	task := SASTask{
		ID:           nextNumber(100000, s.st.SAS.Tasks, func(t SASTask) int64 { return t.ID }),
		Operation:    op,
		Params:       params,
		Status:       "Processing",
		CreationTime: rc.now,
		Pending:      s.startPending(rc.now),
	}
	for _, ev := range events {
		res := SASTaskResult{EventID: ev.ID, Status: "Processing"}
		if !canOperate(ev, op) {
			res.Status, res.ErrorCode = "Failure", op+".NotSupported"
			if sasDone(ev.Status) {
				res.ErrorCode = op + ".EventAlreadyHandled"
			}
		} else {
			ev.Status = sasHandling
		}
		task.Events = append(task.Events, res)
	}
	if task.Pending == nil {
		s.finishTask(&task, rc.now)
	}
	s.st.SAS.Tasks = append(s.st.SAS.Tasks, task)
	rc.changed = true
	return obj{"HandleSecurityEventsResponse": obj{"TaskId": task.ID}}, nil
}

// finishTask completes a task: each processing event is handled (or fails
// with its scripted HandleError) and the task is Success only if every
// event succeeded.
func (s *Server) finishTask(task *SASTask, now time.Time) {
	task.Status = "Success"
	for i := range task.Events {
		res := &task.Events[i]
		ev := findPtr(s.st.SAS.Events, func(e *SASEvent) bool { return e.ID == res.EventID })
		if res.Status == "Processing" && ev != nil {
			ev.OperateTime = now
			if ev.HandleError != "" {
				res.Status, res.ErrorCode = "Failure", ev.HandleError
				ev.Status, ev.OperateErrorCode, ev.OperateMsg = sasPending, ev.HandleError, "handling failed"
			} else {
				res.Status = "Success"
				ev.OperateErrorCode, ev.OperateMsg = task.Operation+".Success", "handled by "+task.Operation
				switch task.Operation {
				case "ignore":
					ev.Status = sasIgnored
				case "mark_mis_info":
					ev.Status = sasFalsePositive
				default:
					ev.Status = sasHandled
				}
			}
		}
		if res.Status != "Success" {
			task.Status = "Failure"
		}
	}
}

func (s *Server) sasDescribeSecurityEventOperationStatus(rc *reqCtx) (obj, error) {
	raw, err := rc.p.required("TaskId")
	if err != nil {
		return nil, err
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, errInvalid("TaskId", raw)
	}
	task := findPtr(s.st.SAS.Tasks, func(t *SASTask) bool { return t.ID == id })
	if task == nil {
		return nil, errNotFound("InvalidTaskId.NotFound", fmt.Sprintf("The task %d does not exist.", id))
	}
	if task.Status == "Processing" && s.poll(&task.Pending, rc.now) {
		s.finishTask(task, rc.now)
		rc.changed = true
	}
	only := rc.p.repeated("SecurityEventIds")
	var statuses []obj
	for _, r := range task.Events {
		eid := strconv.FormatInt(r.EventID, 10)
		if len(only) > 0 && !slices.Contains(only, eid) {
			continue
		}
		statuses = append(statuses, obj{"SecurityEventId": eid, "Status": r.Status, "ErrorCode": r.ErrorCode})
	}
	return obj{"SecurityEventOperationStatusResponse": obj{
		"TaskStatus":                     task.Status,
		"SecurityEventOperationStatuses": orEmpty(statuses),
	}}, nil
}
