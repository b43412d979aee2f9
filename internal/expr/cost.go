package expr

import (
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/types"
)

// sizeEstimator is the checker.CostEstimator of the environment. cel-go
// assumes an unbounded size for every list, map or string whose size the
// expression does not show, which makes any comprehension's estimate
// useless; sizeEstimator bounds them. Passing a nil estimator to
// cel.Env.EstimateCost panics, so there is always one.
type sizeEstimator struct {
	max uint64
}

// EstimateSize implements [checker.CostEstimator].
func (e sizeEstimator) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	t := n.Type()
	if t == nil {
		return &checker.SizeEstimate{Min: 0, Max: e.max}
	}
	switch t.Kind() {
	case types.ListKind, types.MapKind, types.StringKind, types.BytesKind,
		types.DynKind, types.AnyKind, types.StructKind, types.OpaqueKind:
		return &checker.SizeEstimate{Min: 0, Max: e.max}
	}
	return nil
}

// EstimateCallCost implements [checker.CostEstimator]: the libraries' own
// estimates are used.
func (sizeEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// payloadMaxSize bounds the size of any list, map or string an expression
// can receive: alerts are refused above 1 MiB (internal/alert) and Temporal
// refuses payloads above 2 MiB, and every element or character takes at
// least one byte of JSON. An expression whose estimate under this bound
// stays below Options.CostLimit runs without runtime cost tracking.
const payloadMaxSize = 2 << 20
