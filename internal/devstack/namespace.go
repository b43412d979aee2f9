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
// start. It returns once ListSearchAttributes shows every attribute.
func ensureNamespace(ctx context.Context, c client.Client, ns string, retention time.Duration) error {
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	if err != nil {
		return fmt.Errorf("describe namespace %s: %w", ns, err)
	}
	if got := desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != retention {
		_, err := c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
			Namespace: ns,
			Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(retention)},
		})
		if err != nil {
			return fmt.Errorf("set retention of namespace %s to %s: %w", ns, retention, err)
		}
	}

	want := SearchAttributes()
	missing, err := missingSearchAttributes(ctx, c, ns, want)
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		return nil
	}
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
	// The frontend's namespace cache refreshes every few seconds; wait until
	// the new attributes are usable.
	for {
		missing, err = missingSearchAttributes(ctx, c, ns, want)
		if err != nil || len(missing) == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for search attributes %v in namespace %s: %w", missing, ns, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
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
