package alert

// setLabel sets labels[k] = v unless v is empty or "-".
func setLabel(labels map[string]string, k, v string) {
	if v != "" && v != "-" {
		labels[k] = v
	}
}

func setIfEmpty(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

func appendUnique(list []string, v string) []string {
	for _, e := range list {
		if e == v {
			return list
		}
	}
	return append(list, v)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// fillFromCloudEvent fills what a vendor payload lacks from its CloudEvents
// envelope: the ID (prefix + the event id), time, account and region.
func (dc *decodeContext) fillFromCloudEvent(a *Alert, prefix string) {
	ce := dc.ce
	if ce == nil {
		return
	}
	if a.ID == "" {
		a.ID = vendorID(prefix, ce.ID)
	}
	if a.Time.IsZero() {
		a.Time = ce.Time
	}
	setIfEmpty(&a.Account, ce.Account)
	setIfEmpty(&a.Region, ce.Region)
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	setLabel(a.Labels, "cloudevents.type", ce.Type)
}
