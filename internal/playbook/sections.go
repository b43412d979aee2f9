package playbook

import (
	"gopkg.in/yaml.v3"

	"github.com/opensoar/soar/internal/expr"
)

// collectRefs records every step ID and var name before anything is
// parsed, so that expressions can be checked against all of them (and
// against their order). Duplicate IDs are reported here.
func (p *parser) collectRefs(f map[string]pair) {
	p.steps = map[string]stepRef{}
	p.vars = map[string]int{}
	record := func(n *yaml.Node, order int, group bool) {
		idNode := mapValue(n, "id")
		if idNode == nil || idNode.Kind != yaml.ScalarNode || idNode.Value == "" {
			return
		}
		id := idNode.Value
		if prev, dup := p.steps[id]; dup {
			p.errorf(idNode, CodeDuplicateID, "duplicate step id %q (first used at line %d): step ids are unique across steps, parallel blocks and on_failure", id, prev.line)
			return
		}
		p.steps[id] = stepRef{order: order, group: group, line: idNode.Line}
		p.stepIDs = append(p.stepIDs, id)
	}
	walk := func(list *yaml.Node, base int) {
		list = deref(list)
		if list == nil || list.Kind != yaml.SequenceNode {
			return
		}
		for i, sn := range list.Content {
			sn = deref(sn)
			if sn.Kind != yaml.MappingNode {
				continue
			}
			record(sn, base+i, false)
			if par := mapValue(sn, "parallel"); par != nil && par.Kind == yaml.SequenceNode {
				for _, c := range par.Content {
					if c = deref(c); c.Kind == yaml.MappingNode {
						record(c, base+i, true)
					}
				}
			}
		}
	}
	walk(f["steps"].val, 0)
	walk(f["on_failure"].val, p.mainSteps(f))

	if vars := deref(f["vars"].val); vars != nil && vars.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(vars.Content); i += 2 {
			name := vars.Content[i].Value
			if _, dup := p.vars[name]; !dup {
				p.vars[name] = len(p.varList)
				p.varList = append(p.varList, name)
			}
		}
	}
}

// mainSteps returns the number of top-level steps: on_failure steps are
// numbered after them.
func (p *parser) mainSteps(f map[string]pair) int {
	if s := deref(f["steps"].val); s != nil && s.Kind == yaml.SequenceNode {
		return len(s.Content)
	}
	return 0
}

// mapValue returns the value of key in mapping n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, deref(n.Content[i+1]))
			continue
		}
		if k.Value == key {
			return deref(n.Content[i+1])
		}
	}
	for _, m := range merged {
		list := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			list = m.Content
		}
		for _, src := range list {
			if v := mapValue(src, key); v != nil {
				return v
			}
		}
	}
	return nil
}

// triggerKeys are the keys of trigger.
func triggerKeys() []string { return []string{"subjects", "when"} }

// dedupKeys are the keys of dedup.
func dedupKeys() []string { return []string{"key", "window"} }

func (p *parser) trigger(in pair) Trigger {
	var t Trigger
	f, ok := p.fields(in.val, "trigger", triggerKeys(), nil)
	if !ok {
		return t
	}
	if pr, ok := f["subjects"]; ok {
		subjects, _ := p.strList(pr.val, "trigger.subjects")
		if len(subjects) == 0 && deref(pr.val).Kind == yaml.SequenceNode {
			p.errorf(pr.val, CodeMissingField, "trigger.subjects is empty: name at least one subject pattern such as alerts.sas.>")
		}
		for i, s := range subjects {
			if msg := checkSubject(s); msg != "" {
				p.errorf(deref(pr.val).Content[i], CodeInvalidSubj, "invalid subject pattern %q: %s", s, msg)
			}
		}
		t.Subjects = subjects
	} else {
		p.errorf(in.key, CodeMissingField, "trigger has no subjects (subjects: [alerts.<source>.<type>])")
	}
	if pr, ok := f["when"]; ok {
		t.When = p.triggerCEL(pr.val, "trigger.when", "bool")
	}
	return t
}

func (p *parser) dedup(in pair) *Dedup {
	d := &Dedup{}
	f, ok := p.fields(in.val, "dedup", dedupKeys(), nil)
	if !ok {
		return d
	}
	if pr, ok := f["key"]; ok {
		d.Key = p.triggerCEL(pr.val, "dedup.key", "key")
	} else {
		p.errorf(in.key, CodeMissingField, "dedup has no key (a CEL expression such as alert.source_ip)")
	}
	if pr, ok := f["window"]; ok {
		d.Window, _ = p.duration(pr.val, "dedup.window")
	}
	return d
}

// triggerCEL checks a bare CEL field that runs before there is an
// incident (trigger.when, dedup.key, severity). want is "bool", "int" or
// "key" (a value that names an incident).
func (p *parser) triggerCEL(n *yaml.Node, what, want string) string {
	src, ok := p.celSource(n, what)
	if !ok {
		return src
	}
	c := p.checkCEL(n, src, 0, exprCtx{what: what, scope: expr.TriggerScope(), order: -1})
	p.wantType(n, 0, c, what, want)
	return src
}

func (p *parser) parseVars(n *yaml.Node) []Var {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, CodeWrongType, "vars must be a mapping of names to values, got %s", describe(n))
		return nil
	}
	var out []Var
	for _, pr := range p.pairs(n) {
		name := pr.key.Value
		if !varNameRE.MatchString(name) {
			p.errorf(pr.key, CodeInvalidID, "var name %q must be a CEL identifier (letters, digits and _, not starting with a digit) so that vars.%s reads it", name, name)
		}
		ctx := exprCtx{what: "vars." + name, scope: expr.StepScope(false), order: -1, inVars: true, varIndex: p.vars[name]}
		v, _ := p.treeValue(pr.val, func(sn *yaml.Node, s string) { p.checkTemplate(sn, s, ctx) })
		out = append(out, Var{Name: name, Value: v})
	}
	return out
}
