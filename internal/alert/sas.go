package alert

import (
	"path"
	"sort"
	"strconv"
	"strings"
)

// decodeSAS normalizes Security Center (SAS) alerts in three forms
// (reference alibaba-openapi.md §13.1–§13.3):
//
//   - the SLS log (logstore sas-log): name, level, data_source, uuid,
//     unique_info, __time__ and detail, a JSON string (or object) whose
//     members (cmdline, pid, remote_ip, file_path, …) are read leniently;
//   - a DescribeSuspEvents response (a SuspEvents array): one alert per
//     event, with InstanceId, IPs, Level, Name and the Details rows;
//   - the CloudMonitor system-event webhook (product SAS, with content).
//
// The ID is "sas-<uuid>-<unique_info>" when the alert has a UniqueInfo:
// unique_info is unique per server only (§13.1), so the agent UUID (else
// the instance ID) names the server. The same alert read by polling and
// from SLS, which both carry the UUID, is one alert, and a poller that
// reads an event twice publishes it once. Without a UniqueInfo the ID is
// "sas-" + the event Id (unique across servers), else a hash.
func decodeSAS(dc *decodeContext, o object) ([]Alert, error) {
	switch {
	case o.has("SuspEvents"):
		return decodeSASPage(dc, o)
	case o.has("content") || o.has("product") || o.has("traceId"):
		a, err := decodeSASCloudMonitor(dc, o)
		return []Alert{a}, err
	default:
		a, err := decodeSASLog(dc, o)
		return []Alert{a}, err
	}
}

// sasFields is what the three forms have in common.
type sasFields struct {
	name, level, dataSource string
	texts                   []string // extra classification hints (event type, subtype)
	uniqueInfo, eventID     string
}

func decodeSASLog(dc *decodeContext, o object) (Alert, error) {
	var r reader
	f := sasFields{
		name:       r.str(o, "name"),
		level:      r.str(o, "level"),
		dataSource: r.str(o, "data_source"),
		uniqueInfo: r.str(o, "unique_info"),
	}
	a := Alert{Labels: map[string]string{}}
	setLabel(a.Labels, "sas.uuid", r.str(o, "uuid"))
	setLabel(a.Labels, "sas.op", r.str(o, "op"))
	setLabel(a.Labels, "sas.status", r.str(o, "status"))
	a.Resource.InstanceID = r.first(o, "instance_id", "InstanceId")
	a.Resource.InternetIP = r.firstIP(o, "internet_ip")
	a.Resource.IntranetIP = r.firstIP(o, "intranet_ip")
	a.Resource.Hostname = r.first(o, "instance_name", "host_name", "__tag__:__hostname__")
	a.Time, _ = r.time(o, "__time__")
	if r.err != nil {
		return Alert{}, r.err
	}
	if f.name == "" {
		return Alert{}, missing(o.at("name"))
	}
	switch d := o.m["detail"].(type) {
	case string:
		// detail is undocumented: JSON when it parses, kept in raw otherwise.
		if v, err := parseJSON([]byte(d), dc.opts.MaxDepth-1, dc.opts.MaxItems); err == nil {
			if m, ok := v.(map[string]any); ok {
				applyHostDetail(&a, m)
			}
		}
	case map[string]any:
		applyHostDetail(&a, d)
	}
	dc.finishSAS(&a, f, dc.payload)
	return a, nil
}

func decodeSASPage(dc *decodeContext, o object) ([]Alert, error) {
	var r reader
	events, _ := r.list(o, "SuspEvents")
	requestID := r.str(o, "RequestId")
	if r.err != nil {
		return nil, r.err
	}
	if len(events) == 0 {
		return nil, decodeErr(ReasonMissingField, "SuspEvents is empty: the page holds no event")
	}
	if len(events) > MaxEventsPerPayload {
		return nil, decodeErr(ReasonTooManyItems, "SuspEvents has %d events, at most %d per message", len(events), MaxEventsPerPayload)
	}
	out := make([]Alert, 0, len(events))
	dc.page = true
	for i, e := range events {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, invalid("SuspEvents["+strconv.Itoa(i)+"]", "want an object, got %s", kindOf(e))
		}
		ev := object{m: m, path: "SuspEvents[" + strconv.Itoa(i) + "]"}
		a, err := decodeSASEvent(dc, ev)
		if err != nil {
			return nil, err
		}
		setLabel(a.Labels, "sas.request_id", requestID)
		out = append(out, a)
	}
	return out, nil
}

func decodeSASEvent(dc *decodeContext, o object) (Alert, error) {
	var r reader
	f := sasFields{
		name:       r.first(o, "Name", "AlarmEventName", "AlarmEventNameDisplay", "AlarmEventNameOriginal"),
		level:      r.str(o, "Level"),
		dataSource: r.str(o, "DataSource"),
		uniqueInfo: r.first(o, "UniqueInfo", "AlarmUniqueInfo"),
		eventID:    r.first(o, "Id", "SecurityEventIds"),
		texts:      []string{r.str(o, "AlarmEventType"), r.str(o, "EventSubType"), r.str(o, "AlarmEventTypeDisplay")},
	}
	a := Alert{Labels: map[string]string{}}
	a.Resource.InstanceID = r.str(o, "InstanceId")
	a.Resource.Hostname = r.str(o, "InstanceName")
	a.Resource.InternetIP = r.ip(o, "InternetIp")
	a.Resource.IntranetIP = r.ip(o, "IntranetIp")
	setLabel(a.Labels, "sas.uuid", r.str(o, "Uuid"))
	setLabel(a.Labels, "sas.event_status", r.str(o, "EventStatus"))
	setLabel(a.Labels, "sas.event_type", r.str(o, "AlarmEventType"))
	var ok bool
	if a.Time, ok = r.time(o, "OccurrenceTimeStamp"); !ok {
		if a.Time, ok = r.time(o, "OccurrenceTime"); !ok {
			a.Time, _ = r.time(o, "LastTimeStamp")
		}
	}
	rows, _ := r.list(o, "Details")
	if r.err != nil {
		return Alert{}, r.err
	}
	if f.name == "" {
		return Alert{}, missing(o.at("Name"))
	}
	if len(rows) > 0 {
		applyHostDetail(&a, detailRows(rows))
	}
	dc.finishSAS(&a, f, o.m)
	return a, nil
}

// detailRows turns DescribeSuspEvents Details rows ({Name, Value}) into a
// map; the first row of a name wins.
func detailRows(rows []any) map[string]any {
	m := make(map[string]any, len(rows))
	for _, row := range rows {
		rm, ok := row.(map[string]any)
		if !ok {
			continue
		}
		name, _ := rm["Name"].(string)
		if name == "" {
			name, _ = rm["NameDisplay"].(string)
		}
		if _, dup := m[name]; name == "" || dup {
			continue
		}
		v := rm["Value"]
		if v == nil {
			v = rm["ValueDisplay"]
		}
		m[name] = v
	}
	return m
}

func decodeSASCloudMonitor(dc *decodeContext, o object) (Alert, error) {
	var r reader
	content, _ := r.obj(o, "content")
	f := sasFields{
		name:  r.first(content, "name", "alarmEventName"),
		level: r.first(content, "level"),
	}
	if f.name == "" {
		f.name = r.str(o, "name")
	}
	if f.level == "" {
		f.level = r.str(o, "level")
	}
	f.dataSource = r.str(content, "dataSource")
	f.uniqueInfo = r.first(content, "uniqueInfo", "unique_info")
	a := Alert{Labels: map[string]string{}}
	a.Account = r.str(o, "userId")
	a.Region = r.str(o, "regionId")
	a.Resource.InstanceID = r.first(content, "instanceId", "instance_id")
	if a.Resource.InstanceID == "" {
		a.Resource.InstanceID = instanceFromARN(r.str(o, "resourceId"))
	}
	a.Resource.Hostname = r.first(content, "instanceName")
	if a.Resource.Hostname == "" {
		a.Resource.Hostname = r.str(o, "instanceName")
	}
	a.Resource.InternetIP = r.firstIP(content, "internetIp", "internet_ip")
	a.Resource.IntranetIP = r.firstIP(content, "intranetIp", "intranet_ip")
	setLabel(a.Labels, "sas.uuid", r.str(content, "uuid"))
	setLabel(a.Labels, "sas.status", r.str(o, "status"))
	setLabel(a.Labels, "cloudmonitor.event", r.str(o, "name"))
	a.Time, _ = r.time(o, "eventTime")
	cmID := r.str(o, "id")
	if r.err != nil {
		return Alert{}, r.err
	}
	if f.name == "" {
		return Alert{}, missing(o.at("content.name"))
	}
	if d, ok := content.m["detail"]; ok {
		switch d := d.(type) {
		case map[string]any:
			applyHostDetail(&a, d)
		case string:
			if v, err := parseJSON([]byte(d), dc.opts.MaxDepth-2, dc.opts.MaxItems); err == nil {
				if m, ok := v.(map[string]any); ok {
					applyHostDetail(&a, m)
				}
			}
		}
	}
	if f.uniqueInfo == "" && cmID != "" {
		f.eventID = cmID
	}
	dc.finishSAS(&a, f, dc.payload)
	return a, nil
}

// finishSAS sets what the three forms derive alike; basis is the object
// hashed for the ID when the alert has no vendor ID, and kept in Raw.
func (dc *decodeContext) finishSAS(a *Alert, f sasFields, basis map[string]any) {
	a.Source = SourceSAS
	kind := classifyHost(append([]string{f.name}, f.texts...)...)
	if kind == "" {
		switch f.dataSource {
		case "aegis_suspicious_file_v2":
			kind = TypeWebshell
		case "aegis_login_log":
			kind = TypeAbnormalLogin
		default:
			kind = dc.orSubjectType(TypeSuspicious, TypeSuspicious)
		}
	}
	a.Type = kind
	if s, ok := severityFromLevel(f.level); ok {
		a.Severity = s
	} else {
		a.Severity = defaultSeverity(kind)
	}
	setLabel(a.Labels, "sas.level", f.level)
	setLabel(a.Labels, "sas.data_source", f.dataSource)
	setLabel(a.Labels, "sas.unique_info", f.uniqueInfo)
	setLabel(a.Labels, "sas.event_id", f.eventID)
	if (kind == TypeReverseShell || kind == TypeC2Connection || kind == TypeMiner) && a.SourceIP != "" {
		a.IOCs.IPs = appendUnique(a.IOCs.IPs, a.SourceIP)
	}
	target := firstNonEmpty(a.Resource.InstanceID, a.Resource.Hostname, a.Resource.InternetIP, a.Labels["sas.uuid"])
	a.Title = f.name
	if target != "" {
		a.Title += " on " + target
	}
	switch {
	case f.uniqueInfo != "":
		id := f.uniqueInfo
		if server := firstNonEmpty(a.Labels["sas.uuid"], a.Resource.InstanceID); server != "" {
			id = server + "-" + id
		}
		a.ID = vendorID("sas", id)
	case f.eventID != "":
		a.ID = vendorID("sas", f.eventID)
	}
	if a.ID == "" && dc.page {
		// Events of one page share the CloudEvent: its id names none of them.
		a.ID = hashID("sas", basis)
	}
	dc.fillFromCloudEvent(a, "sas")
	if a.ID == "" {
		a.ID = hashID("sas", basis)
	}
	a.Raw = dc.raw(basis)
}

// hostDetail lists, per envelope field, the detail member names that fill
// it, in priority order (names are compared lowercased, with spaces and
// dashes as underscores).
var hostDetail = struct {
	cmdline, pid, procName, procPath, user, filePath, sha256, md5, remoteIP, domain,
	instanceID, internetIP, intranetIP, hostname, loginUser, count, port []string
}{
	cmdline:    []string{"cmdline", "cmd_line", "command_line", "process_cmdline", "proc_cmdline", "cmd", "command"},
	pid:        []string{"pid", "process_id", "proc_id"},
	procName:   []string{"proc_name", "process_name", "process"},
	procPath:   []string{"proc_path", "process_path", "exe", "image"},
	user:       []string{"user", "user_name", "username", "process_user", "proc_user"},
	filePath:   []string{"file_path", "filepath", "webshell_path", "webshell_file", "file", "path", "file_name"},
	sha256:     []string{"sha256", "file_sha256", "hash_sha256"},
	md5:        []string{"md5", "file_md5"},
	remoteIP:   []string{"remote_ip", "src_ip", "source_ip", "attack_ip", "login_source_ip", "login_ip", "client_ip", "remote_addr", "ip"},
	domain:     []string{"domain", "malicious_domain", "c2_domain", "remote_domain"},
	instanceID: []string{"instance_id", "instanceid"},
	internetIP: []string{"internet_ip", "public_ip"},
	intranetIP: []string{"intranet_ip", "private_ip"},
	hostname:   []string{"hostname", "host_name", "instance_name"},
	loginUser:  []string{"login_user", "login_username", "target_user", "account"},
	count:      []string{"count", "times", "login_count", "try_count", "attempts"},
	port:       []string{"port", "dst_port"},
}

// applyHostDetail fills a from an undocumented detail map, leniently: values
// of the wrong type or IPs that do not parse are ignored (they stay in raw).
// Fields the payload already set win.
func applyHostDetail(a *Alert, d map[string]any) {
	// Normalize member names; on collisions the smallest original name wins,
	// so the result does not depend on map order.
	names := make([]string, 0, len(d))
	for k := range d {
		names = append(names, k)
	}
	sort.Strings(names)
	norm := make(map[string]any, len(d))
	for _, k := range names {
		nk := strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(strings.TrimSpace(k)))
		if _, dup := norm[nk]; !dup {
			norm[nk] = d[k]
		}
	}
	o := object{m: norm}
	var r reader // errors are ignored: detail is best effort
	str := func(keys []string) string {
		for _, k := range keys {
			var one reader
			if s := one.str(o, k); one.err == nil && s != "" && s != "-" {
				return s
			}
		}
		return ""
	}
	ip := func(keys []string) string {
		for _, k := range keys {
			if s, err := parseIP(str([]string{k})); err == nil && s != "" {
				return s
			}
		}
		return ""
	}
	setIfEmpty(&a.Process.Cmdline, str(hostDetail.cmdline))
	setIfEmpty(&a.Process.Name, str(hostDetail.procName))
	setIfEmpty(&a.Process.Path, str(hostDetail.procPath))
	setIfEmpty(&a.Process.User, str(hostDetail.user))
	setIfEmpty(&a.File.Path, str(hostDetail.filePath))
	setIfEmpty(&a.Resource.InstanceID, str(hostDetail.instanceID))
	setIfEmpty(&a.Resource.InternetIP, ip(hostDetail.internetIP))
	setIfEmpty(&a.Resource.IntranetIP, ip(hostDetail.intranetIP))
	setIfEmpty(&a.Resource.Hostname, str(hostDetail.hostname))
	setIfEmpty(&a.SourceIP, ip(hostDetail.remoteIP))
	if a.Process.PID == 0 {
		for _, k := range hostDetail.pid {
			if n, ok := r.int(o, k); ok && n > 0 && n < 1<<31 {
				a.Process.PID = int(n)
				break
			}
		}
	}
	if a.Count == 0 {
		for _, k := range hostDetail.count {
			if n, ok := r.int(o, k); ok && n > 0 && n < 1<<31 {
				a.Count = int(n)
				break
			}
		}
	}
	if a.Process.Name == "" {
		if p := firstNonEmpty(a.Process.Path, firstField(a.Process.Cmdline)); p != "" {
			a.Process.Name = path.Base(p)
		}
	}
	if h := strings.ToLower(str(hostDetail.sha256)); isHex(h, 64) {
		a.File.SHA256 = h
		a.IOCs.Hashes = appendUnique(a.IOCs.Hashes, h)
	}
	if h := strings.ToLower(str(hostDetail.md5)); isHex(h, 32) {
		a.IOCs.Hashes = appendUnique(a.IOCs.Hashes, h)
	}
	if dom := strings.ToLower(str(hostDetail.domain)); dom != "" {
		a.IOCs.Domains = appendUnique(a.IOCs.Domains, dom)
	}
	setLabel(a.Labels, "login_user", str(hostDetail.loginUser))
	setLabel(a.Labels, "port", str(hostDetail.port))
	setLabel(a.Labels, "remote_port", str([]string{"remote_port"}))
}

// instanceFromARN returns the instance ID of acs:ecs:<region>:<uid>:instance/<id>.
func instanceFromARN(arn string) string {
	_, id, ok := strings.Cut(arn, ":instance/")
	if !ok {
		return ""
	}
	return id
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
