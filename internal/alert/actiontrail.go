package alert

import (
	"strings"
)

// decodeActionTrail normalizes an ActionTrail event (reference
// alibaba-openapi.md §13.6), bare (SLS, OSS) or as the data of an
// EventBridge CloudEvent of type <product>:ActionTrail:<kind>.
//
// An audit event carries no verdict: it reaches the alert stream because a
// detector (an SLS alert rule such as "access key used from an IP outside
// the office") flagged it and published it on alerts.actiontrail.<type>.
// So the subject's type token decides the kind when it is a known one
// (leaked_access_key, abnormal_login, brute_force, …); otherwise a console
// sign-in is abnormal_login, a call signed with a long-lived access key of a
// RAM user or the root account is leaked_access_key, and anything else is
// suspicious_api_call.
//
// Labels access_key_id, user_name and event_name name the principal and the
// call (the leaked-access-key playbook disables access_key_id); the
// actiontrail.* labels keep the rest. Severity: 5 for persistence and
// defense-evasion calls (CreateAccessKey, CreateUser, AttachPolicyTo*,
// CreateLoginProfile, StopLogging, DeleteTrail, …) with a leaked key, 4 for
// other writes, 3 for reads and sign-ins, 2 for failed sign-ins.
func decodeActionTrail(dc *decodeContext, o object) ([]Alert, error) {
	var r reader
	ident, _ := r.obj(o, "userIdentity")
	if ident.m == nil {
		ident = object{m: map[string]any{}, path: o.at("userIdentity")}
	}
	eventName := r.str(o, "eventName")
	eventType := r.str(o, "eventType")
	rw := r.str(o, "eventRW")
	identType := r.str(ident, "type")
	accessKey := r.str(ident, "accessKeyId")
	userName := r.str(ident, "userName")
	errorCode := r.str(o, "errorCode")
	service := firstNonEmpty(r.str(o, "serviceName"), strings.TrimSuffix(r.str(o, "eventSource"), ".aliyuncs.com"))
	srcAddr := r.str(o, "sourceIpAddress")
	extra, _ := r.obj(o, "additionalEventData")
	loginResult := ""
	if extra.m != nil {
		loginResult = strings.ToLower(r.str(extra, "loginResult"))
	}
	a := Alert{Source: SourceActionTrail, Labels: map[string]string{}}
	a.Account = firstNonEmpty(r.str(o, "recipientAccountId"), r.str(ident, "accountId"))
	a.Region = r.str(o, "acsRegion")
	a.Time, _ = r.time(o, "eventTime")
	if refs, ok := r.obj(o, "referencedResources"); ok {
		if ids := r.strings(refs, "ACS::ECS::Instance"); len(ids) > 0 {
			a.Resource.InstanceID = ids[0]
		}
	}
	if params, ok := r.obj(o, "requestParameters"); ok && a.Resource.InstanceID == "" {
		if id, isStr := params.m["InstanceId"].(string); isStr {
			a.Resource.InstanceID = strings.TrimSpace(id)
		}
	}
	eventID := r.str(o, "eventId")
	if r.err != nil {
		return nil, r.err
	}
	if eventName == "" {
		return nil, missing(o.at("eventName"))
	}
	if ip, err := parseIP(srcAddr); err == nil {
		a.SourceIP = ip
	} else {
		// Service-initiated calls name the service instead of an address.
		setLabel(a.Labels, "actiontrail.source_address", srcAddr)
	}
	signin := eventName == "ConsoleSignin" || eventType == "ConsoleSignin"
	failed := errorCode != "" || loginResult == "fail" || loginResult == "failure" || loginResult == "failed"
	kind := TypeSuspiciousAPICall
	switch {
	case signin:
		kind = TypeAbnormalLogin
	case accessKey != "" && !strings.HasPrefix(accessKey, "STS.") && (identType == "ram-user" || identType == "root-account"):
		kind = TypeLeakedAccessKey
	}
	if isKnownType(dc.typeToken) {
		kind = dc.typeToken
	}
	a.Type = kind
	switch {
	case signin && failed:
		a.Severity = SeverityLow
	case signin:
		a.Severity = SeverityMedium
	case kind == TypeLeakedAccessKey && persistenceCall(eventName):
		a.Severity = SeverityCritical
	case strings.EqualFold(rw, "Write"):
		a.Severity = SeverityHigh
	default:
		a.Severity = SeverityMedium
	}
	setLabel(a.Labels, "access_key_id", accessKey)
	setLabel(a.Labels, "user_name", userName)
	setLabel(a.Labels, "event_name", eventName)
	for k, v := range map[string]string{
		"actiontrail.event_type": eventType, "actiontrail.event_rw": rw, "actiontrail.identity_type": identType,
		"actiontrail.principal_id": r.str(ident, "principalId"), "actiontrail.error_code": errorCode,
		"actiontrail.service": service, "actiontrail.user_agent": r.str(o, "userAgent"),
		"actiontrail.login_result": loginResult,
	} {
		setLabel(a.Labels, k, v)
	}

	who := firstNonEmpty(userName, r.str(ident, "principalId"), identType, "unknown principal")
	switch {
	case signin:
		a.Title = "Console sign-in of " + who
		if failed {
			a.Title = "Failed console sign-in of " + who
		}
	case accessKey != "":
		a.Title = "AccessKey " + accessKey + " (" + who + ") called " + service + " " + eventName
	default:
		a.Title = who + " called " + service + " " + eventName
	}
	if a.SourceIP != "" {
		a.Title += " from " + a.SourceIP
	}
	a.ID = vendorID("actiontrail", eventID)
	dc.fillFromCloudEvent(&a, "actiontrail")
	if a.ID == "" {
		a.ID = hashID("actiontrail", dc.payload)
	}
	a.Raw = dc.raw(dc.payload)
	return []Alert{a}, nil
}

// persistenceCall reports whether an API call gives an intruder lasting
// access or blinds the audit trail.
func persistenceCall(name string) bool {
	switch name {
	case "CreateAccessKey", "CreateUser", "CreateLoginProfile", "UpdateLoginProfile", "CreateRole",
		"AttachPolicyToUser", "AttachPolicyToRole", "AttachPolicyToGroup", "AddUserToGroup",
		"CreatePolicyVersion", "SetDefaultPolicyVersion", "UpdateRole",
		"StopLogging", "DeleteTrail", "UpdateTrail",
		"ImportKeyPair", "AttachKeyPair", "ResetPassword", "ModifyInstanceAttribute":
		return true
	}
	return false
}
