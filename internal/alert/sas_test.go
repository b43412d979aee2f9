package alert

import (
	"strings"
	"testing"
)

// TestDecodeSAS_IDNamesTheServer: unique_info is unique per server only
// (alibaba-openapi.md §13.1), so two servers' alerts with the same
// unique_info get different IDs, while one server's alert read from SLS
// and by DescribeSuspEvents polling keeps one ID.
func TestDecodeSAS_IDNamesTheServer(t *testing.T) {
	sls := func(uuid string) string {
		return `{"__topic__": "sas-security-log", "__time__": "1767169200", "data_source": "aegis_suspicious_event",
			"level": "serious", "name": "Reverse shell", "uuid": "` + uuid + `", "unique_info": "5c8e1f7a9b2d4c6e8f0a1b2c3d4e5f60"}`
	}
	decode := func(subject, payload string) Alert {
		t.Helper()
		as, err := DecodeAll(subject, []byte(payload), DecodeOptions{})
		if err != nil || len(as) != 1 {
			t.Fatalf("DecodeAll(%s) = %d alerts, %v", payload, len(as), err)
		}
		return as[0]
	}
	web := decode("alerts.sas.reverse_shell", sls("inst-web-01"))
	db := decode("alerts.sas.reverse_shell", sls("inst-db-01"))
	if web.ID == db.ID {
		t.Errorf("two servers' alerts with one unique_info share the ID %s", web.ID)
	}
	if want := "sas-inst-web-01-5c8e1f7a9b2d4c6e8f0a1b2c3d4e5f60"; web.ID != want {
		t.Errorf("SLS alert ID = %s, want %s", web.ID, want)
	}

	polled := decode("alerts.sas.events", `{"SuspEvents": [{"Id": 8123456, "UniqueInfo": "5c8e1f7a9b2d4c6e8f0a1b2c3d4e5f60",
		"Uuid": "inst-web-01", "InstanceId": "i-bp1abcdefghij0123456", "Level": "serious", "Name": "Reverse shell"}]}`)
	if polled.ID != web.ID {
		t.Errorf("the same alert polled has ID %s, from SLS %s: want one ID", polled.ID, web.ID)
	}
	monitor := decode("alerts.sas.reverse_shell", `{"product": "SAS", "id": "e3b0c442", "name": "sas:SecurityEvent:Alert",
		"content": {"uuid": "inst-web-01", "uniqueInfo": "5c8e1f7a9b2d4c6e8f0a1b2c3d4e5f60", "level": "serious", "name": "Reverse shell"}}`)
	if monitor.ID != web.ID {
		t.Errorf("the same alert from CloudMonitor has ID %s, from SLS %s: want one ID", monitor.ID, web.ID)
	}

	// Without an agent UUID the instance ID names the server.
	noUUID := decode("alerts.sas.events", `{"SuspEvents": [{"Id": 8123457, "UniqueInfo": "5c8e1f7a9b2d4c6e8f0a1b2c3d4e5f60",
		"InstanceId": "i-bp1other", "Level": "serious", "Name": "Reverse shell"}]}`)
	if want := "sas-i-bp1other-5c8e1f7a9b2d4c6e8f0a1b2c3d4e5f60"; noUUID.ID != want {
		t.Errorf("alert without Uuid: ID %s, want %s", noUUID.ID, want)
	}
	// An event without UniqueInfo keeps its event Id, unique across servers.
	byID := decode("alerts.sas.events", `{"SuspEvents": [{"Id": 8123458, "Uuid": "inst-web-01", "Level": "serious", "Name": "Reverse shell"}]}`)
	if byID.ID != "sas-8123458" {
		t.Errorf("alert without UniqueInfo: ID %s, want sas-8123458", byID.ID)
	}
	// A long UUID still gives an ID within the limit.
	long := decode("alerts.sas.reverse_shell", sls(strings.Repeat("u", MaxIDLen)))
	if len(long.ID) > MaxIDLen || !strings.HasPrefix(long.ID, "sas-") || long.ID == web.ID {
		t.Errorf("alert with a %d-byte uuid: ID %q", MaxIDLen, long.ID)
	}
}
