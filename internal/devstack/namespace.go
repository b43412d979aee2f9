package devstack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Search attribute names soar registers (DESIGN §6). They are persisted in
// visibility records and saved UI filters: never rename. Workflow code must
// not import this package (it links the server), so the workflows package
// keeps its own copy of these names.
const (
	saPlaybook  = "SoarPlaybook"
	saState     = "SoarState"
	saSeverity  = "SoarSeverity"
	saTarget    = "SoarTarget"
	saAlertType = "SoarAlertType"
)

// SearchAttributes lists the custom search attributes soar registers on its
// namespace, with their types. SQLite visibility has 10 Keyword and 3 Int
// columns per namespace; these use 4 and 1.
func SearchAttributes() map[string]enums.IndexedValueType {
	return map[string]enums.IndexedValueType{
		saPlaybook:  enums.INDEXED_VALUE_TYPE_KEYWORD,
		saState:     enums.INDEXED_VALUE_TYPE_KEYWORD,
		saSeverity:  enums.INDEXED_VALUE_TYPE_INT,
		saTarget:    enums.INDEXED_VALUE_TYPE_KEYWORD,
		saAlertType: enums.INDEXED_VALUE_TYPE_KEYWORD,
	}
}

// ensureNamespace makes an existing namespace match soar's needs: the
// database pre-creation (sqlite.CreateNamespaces) is a no-op for a namespace
// that already exists, so search attributes added in a later soar version and
// a changed retention are applied here, through the public API, on every
// start.
func ensureNamespace(ctx context.Context, c client.Client, ns string, retention time.Duration) error {
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	if err != nil {
		return fmt.Errorf("describe namespace %s: %w", ns, err)
	}
	changed := false
	if got := desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != retention {
		_, err := c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
			Namespace: ns,
			Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(retention)},
		})
		if err != nil {
			return fmt.Errorf("set retention of namespace %s to %s: %w", ns, retention, err)
		}
		changed = true
	}

	want := SearchAttributes()
	missing, err := missingSearchAttributes(ctx, c, ns, want)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		add := make(map[string]enums.IndexedValueType, len(missing))
		for _, name := range missing {
			add[name] = want[name]
		}
		_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace:        ns,
			SearchAttributes: add,
		})
		if err != nil {
			return fmt.Errorf("add search attributes %v to namespace %s: %w", missing, ns, err)
		}
		changed = true
	}
	if !changed {
		return nil
	}
	return waitNamespaceCache(ctx, c, ns, retention, want)
}

// waitNamespaceCache waits until the frontend's namespace cache shows the
// namespace's new configuration. The frontend resolves search attribute
// names in queries and start requests through that cache, which refreshes
// every few seconds; DescribeNamespace and ListSearchAttributes read the
// database and see changes at once. The history service has its own cache:
// until it catches up, an upsert of a new attribute fails its workflow task,
// which Temporal retries.
func waitNamespaceCache(ctx context.Context, c client.Client, ns string, retention time.Duration, want map[string]enums.IndexedValueType) error {
	for {
		desc, err := c.WorkflowService().DescribeNamespace(ctx,
			&workflowservice.DescribeNamespaceRequest{Namespace: ns, WeakConsistency: true})
		if err == nil && cacheUpToDate(desc.GetConfig(), retention, want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the namespace cache to show namespace %s's new configuration: %w", ns, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func cacheUpToDate(conf *namespacepb.NamespaceConfig, retention time.Duration, want map[string]enums.IndexedValueType) bool {
	if conf.GetWorkflowExecutionRetentionTtl().AsDuration() != retention {
		return false
	}
	aliases := make(map[string]bool, len(conf.GetCustomSearchAttributeAliases()))
	for _, alias := range conf.GetCustomSearchAttributeAliases() {
		aliases[alias] = true
	}
	for name := range want {
		if !aliases[name] {
			return false
		}
	}
	return true
}

// missingSearchAttributes returns the sorted names in want that ns lacks. An
// attribute that exists with another type is an error: it cannot be fixed
// without deleting it, which drops its values from every workflow.
func missingSearchAttributes(ctx context.Context, c client.Client, ns string, want map[string]enums.IndexedValueType) ([]string, error) {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		return nil, fmt.Errorf("list search attributes of namespace %s: %w", ns, err)
	}
	var missing []string
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(want)) {
		got, ok := resp.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case got != want[name]:
			errs = append(errs, fmt.Errorf("search attribute %s in namespace %s has type %s, want %s",
				name, ns, got, want[name]))
		}
	}
	return missing, errors.Join(errs...)
}
