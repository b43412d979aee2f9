package expr

import (
	"fmt"
	"reflect"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/alert"
)

// Defaults of [Options].
const (
	DefaultCostLimit   = 1_000_000
	DefaultMaxCost     = 1_000_000
	DefaultMaxListSize = 1000
	DefaultCacheSize   = 10_000
)

// Parser and library limits: playbook expressions are one-liners, so
// anything near these is hostile or a mistake.
const (
	maxSourceSize  = 10_000 // code points
	maxRecursion   = 100    // parser nesting depth
	maxNodes       = 5_000  // AST nodes, macro expansions included
	maxRangeSize   = 10_000 // lists.range(n)
	maxRegexSize   = 5_000  // compiled regular expression program size
	interruptEvery = 100    // comprehension iterations between context checks
)

// Options configures an [Env]. Zero fields take their defaults.
type Options struct {
	// CostLimit is the runtime cost limit of one evaluation; default
	// [DefaultCostLimit].
	CostLimit uint64
	// MaxCost is the estimated worst-case cost above which Check reports
	// "cel-cost"; default [DefaultMaxCost].
	MaxCost uint64
	// MaxListSize is the size the cost estimator assumes for lists, maps and
	// strings whose size the expression does not show; default
	// [DefaultMaxListSize].
	MaxListSize uint64
	// CacheSize bounds how many compiled expressions the Env keeps (least
	// recently used first out); default [DefaultCacheSize].
	CacheSize int
}

func (o Options) withDefaults() Options {
	if o.CostLimit == 0 {
		o.CostLimit = DefaultCostLimit
	}
	if o.MaxCost == 0 {
		o.MaxCost = DefaultMaxCost
	}
	if o.MaxListSize == 0 {
		o.MaxListSize = DefaultMaxListSize
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	return o
}

// Env is the CEL environment of soar. It is safe for concurrent use and
// caches compiled programs by (scope, source).
type Env struct {
	cel   *cel.Env
	opts  Options
	cache *lru
}

// NewEnv builds the environment. It fails only if cel-go rejects the
// declarations, which is a programming error.
func NewEnv(opts Options) (*Env, error) {
	opts = opts.withDefaults()
	objects := []any{
		reflect.TypeFor[alert.Alert](),
		reflect.TypeFor[activities.IncidentInfo](),
		reflect.TypeFor[activities.StepState](),
		ext.ParseStructTag("json"),
	}
	env, err := cel.NewEnv(
		// Native types first: they need the env's own type registry, which
		// the adapters installed below wrap.
		ext.NativeTypes(objects...),
		cel.Variable(varAlert, cel.ObjectType(typeAlert)),
		cel.Variable(varNow, cel.TimestampType),
		cel.Variable(varIncident, cel.ObjectType(typeIncident)),
		cel.Variable(varVars, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(varSteps, cel.MapType(cel.StringType, cel.ObjectType(typeStepState))),
		cel.Variable(varItem, cel.DynType),
		cel.Variable(varIndex, cel.IntType),
		cel.Variable(varAction, cel.StringType),
		cel.Variable(varParams, cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(),
		ext.Lists(ext.ListsMaxRangeSize(maxRangeSize)),
		ext.Sets(),
		ext.Math(),
		ext.Encoders(),
		ext.Network(),
		cel.OptionalTypes(),
		cel.CrossTypeNumericComparisons(true),
		cel.DefaultUTCTimeZone(true),
		cel.ParserExpressionSizeLimit(maxSourceSize),
		cel.ParserRecursionLimit(maxRecursion),
		cel.ExpressionNodeLimit(maxNodes),
		cel.RegexProgramSizeLimit(maxRegexSize),
		// Malformed literals (duration('1x'), a bad regex) are compile errors.
		cel.ASTValidators(cel.ValidateDurationLiterals(), cel.ValidateTimestampLiterals(), cel.ValidateRegexLiterals()),
		// Last: wraps whatever provider and adapter the options above left.
		soarTypes(),
	)
	if err != nil {
		return nil, fmt.Errorf("build cel environment: %w", err)
	}
	return &Env{cel: env, opts: opts, cache: newLRU(opts.CacheSize)}, nil
}

// soarTypes installs dynFieldProvider and numberAdapter over the env's
// current provider and adapter.
func soarTypes() cel.EnvOption {
	return func(e *cel.Env) (*cel.Env, error) {
		e, err := cel.CustomTypeProvider(dynFieldProvider{e.CELTypeProvider()})(e)
		if err != nil {
			return nil, err
		}
		return cel.CustomTypeAdapter(numberAdapter{e.CELTypeAdapter()})(e)
	}
}

// Options returns the options in effect, defaults filled in.
func (e *Env) Options() Options { return e.opts }
