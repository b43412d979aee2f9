package alicloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cloudfw"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ddoscoo"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sas"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"go.temporal.io/sdk/activity"

	"github.com/opensoar/soar/activities"
	"github.com/opensoar/soar/internal/config"
	"github.com/opensoar/soar/internal/guard"
)

// Defaults of [Options].
const (
	// DefaultPollInterval is how often asynchronous operations (snapshots,
	// stop/start, Cloud Assistant, Security Center tasks) are polled.
	DefaultPollInterval = 2 * time.Second
	// DefaultReadTimeout bounds one API call when the activity context has
	// no earlier deadline.
	DefaultReadTimeout = 20 * time.Second
)

// Options configures [New].
type Options struct {
	// Accounts are the cloud accounts of soar.yaml, by name.
	Accounts map[string]config.Account
	// DefaultAccount is used when an action names no account.
	DefaultAccount string
	// Commands are the Cloud Assistant templates alicloud.ecs.run_command
	// may run.
	Commands map[string]config.Command
	// Guard holds the guardrails; nil means the default policy, with the
	// accounts' own access keys protected.
	Guard *guard.Guard
	// Getenv reads the credential variables named by the accounts; nil
	// means none are set.
	Getenv func(string) string
	// Logger receives the activities' logs; nil discards them.
	Logger *slog.Logger
	// HTTPTransport is the base transport every SDK client shares (behind a
	// per-invocation wrapper that applies the activity context); nil means
	// a clone of http.DefaultTransport.
	HTTPTransport http.RoundTripper
	// PollInterval is the pause between polls of asynchronous operations;
	// zero means DefaultPollInterval. Tests use a few milliseconds.
	PollInterval time.Duration
	// ReadTimeout bounds each API call; zero means DefaultReadTimeout. It is
	// lowered further to stay below the activity's own deadline.
	ReadTimeout time.Duration
	// MetadataURL is the ECS instance metadata service the instance RAM
	// role's credentials come from (ALIBABA_CLOUD_ECS_METADATA); empty
	// means DefaultMetadataURL. Tests use a local server.
	MetadataURL string
}

// Activities implements every alicloud.* action with the classic Alibaba
// Cloud SDK. Its methods are safe for concurrent use: each invocation builds
// its own SDK clients (a shared client is a data race in the SDK), bound to
// the activity context so that cancellation and timeouts reach the HTTP
// calls.
type Activities struct {
	accounts       map[string]config.Account
	defaultAccount string
	commands       map[string]command
	guard          *guard.Guard
	getenv         func(string) string
	log            *slog.Logger
	base           http.RoundTripper
	poll           time.Duration
	readTimeout    time.Duration
	roles          map[string]*roleProvider
	instanceRole   *instanceRoleProvider
	locks          *keyedMutex
}

// warmEndpoints fills the SDK's lazily built, package-level endpoint maps
// once per process: the SDK's first concurrent client constructions race on
// them (reference §7.5), and several Activities values may be built at once
// (tests). The state guarded here belongs to the SDK, not to this package.
var warmEndpoints sync.Once

// New validates opts and returns the activities. It fails on an account
// without a region, plain HTTP without an endpoint, or a command template
// whose parameter pattern does not compile. Missing credentials are not an
// error here: an action on such an account fails, non-retryably, with
// ErrTypeNotConfigured naming the variable.
func New(opts Options) (*Activities, error) {
	warmEndpoints.Do(func() {
		ecs.GetEndpointMap()
		sas.GetEndpointMap()
		cloudfw.GetEndpointMap()
		ram.GetEndpointMap()
		sts.GetEndpointMap()
		ddoscoo.GetEndpointMap()
		actiontrail.GetEndpointMap()
	})
	a := &Activities{
		accounts:       map[string]config.Account{},
		defaultAccount: opts.DefaultAccount,
		commands:       map[string]command{},
		getenv:         opts.Getenv,
		log:            opts.Logger,
		base:           opts.HTTPTransport,
		poll:           opts.PollInterval,
		readTimeout:    opts.ReadTimeout,
		roles:          map[string]*roleProvider{},
		instanceRole:   &instanceRoleProvider{url: opts.MetadataURL},
		locks:          newKeyedMutex(),
	}
	if a.getenv == nil {
		a.getenv = func(string) string { return "" }
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.base == nil {
		a.base = http.DefaultTransport.(*http.Transport).Clone()
	}
	if a.instanceRole.url == "" {
		a.instanceRole.url = DefaultMetadataURL
	}
	if a.poll <= 0 {
		a.poll = DefaultPollInterval
	}
	if a.readTimeout <= 0 {
		a.readTimeout = DefaultReadTimeout
	}
	var errs []error
	for name, acct := range opts.Accounts {
		if acct.Region == "" {
			errs = append(errs, fmt.Errorf("account %s: region is required", name))
		}
		switch strings.ToLower(acct.Scheme) {
		case "", "https":
		case "http":
			if acct.Endpoint == "" {
				errs = append(errs, fmt.Errorf("account %s: scheme http needs an endpoint (the sandbox); the live cloud is HTTPS only", name))
			}
			for _, ep := range []string{acct.Endpoint, acct.STSEndpoint} {
				if ep != "" && !config.PlainHTTPAllowed(ep) {
					errs = append(errs, fmt.Errorf("account %s: scheme http with endpoint %q: plain HTTP is only allowed to a loopback or private address (the sandbox)", name, ep))
				}
			}
		default:
			errs = append(errs, fmt.Errorf("account %s: scheme %q, want https or http", name, acct.Scheme))
		}
		if name == opts.DefaultAccount {
			acct = a.roleFromEnv(acct)
		}
		a.accounts[name] = acct
		if acct.RoleARN != "" {
			a.roles[name] = &roleProvider{account: name}
		}
	}
	if a.defaultAccount != "" && len(a.accounts) > 0 {
		if _, ok := a.accounts[a.defaultAccount]; !ok {
			errs = append(errs, fmt.Errorf("default account %q is not configured", a.defaultAccount))
		}
	}
	for name, c := range opts.Commands {
		cmd, err := compileCommand(name, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.commands[name] = cmd
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("alicloud activities: %w", err)
	}
	a.guard = opts.Guard
	if a.guard == nil {
		g, err := guard.New(guard.Policy{}, a.OwnAccessKeyIDs()...)
		if err != nil {
			return nil, fmt.Errorf("alicloud activities: default guard: %w", err)
		}
		a.guard = g
	}
	return a, nil
}

// OwnAccessKeyIDs returns the access key IDs the engine signs with (read from
// every account's access-key variable), sorted and without duplicates, so
// that main can protect them from alicloud.ram.disable_access_key. The
// actions refuse to disable these keys even if the guard does not list them.
func (a *Activities) OwnAccessKeyIDs() []string {
	var ids []string
	for _, acct := range a.accounts {
		if id := strings.TrimSpace(a.getenv(envOr(acct.AccessKeyIDEnv, "ALIBABA_CLOUD_ACCESS_KEY_ID"))); id != "" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return slices.Compact(ids)
}

// session is one action invocation's view of an account: the resolved
// account, region and credentials, and the activity context every client it
// builds is bound to.
type session struct {
	a       *Activities
	ctx     context.Context
	account string
	acct    config.Account
	region  string
	cred    auth.Credential
	log     *slog.Logger
}

// session resolves the account and region of an action (input, then the
// default account and the account's region) and its credentials. Unknown
// accounts and missing credentials are non-retryable ErrTypeNotConfigured
// errors.
func (a *Activities) session(ctx context.Context, cloud activities.Cloud) (*session, error) {
	name, acct, err := a.account(cloud.Account)
	if err != nil {
		return nil, err
	}
	region := cloud.Region
	if region == "" {
		region = acct.Region
	}
	if !regionRE.MatchString(region) {
		return nil, invalidInput("region %q is not a region ID such as cn-hangzhou", region)
	}
	s := &session{a: a, ctx: ctx, account: name, acct: acct, region: region, log: a.logger(ctx).With("account", name, "region", region)}
	cred, err := a.credential(ctx, name, acct)
	if err != nil {
		return nil, err
	}
	s.cred = cred
	return s, nil
}

var regionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,40}$`)

// account finds an account by name, else by its UID (alerts carry the UID),
// else the default account for "".
func (a *Activities) account(name string) (string, config.Account, error) {
	if name == "" {
		name = a.defaultAccount
	}
	if acct, ok := a.accounts[name]; ok {
		return name, acct, nil
	}
	for n, acct := range a.accounts {
		if acct.ID != "" && acct.ID == name {
			return n, acct, nil
		}
	}
	known := make([]string, 0, len(a.accounts))
	for n := range a.accounts {
		known = append(known, n)
	}
	sort.Strings(known)
	if name == "" {
		return "", config.Account{}, notConfigured("no account named and no default account in soar.yaml (accounts: %s)", strings.Join(known, ", "))
	}
	return "", config.Account{}, notConfigured("account %q is not in soar.yaml (accounts: %s)", name, strings.Join(known, ", "))
}

// logger returns the activities' logger with the invocation's identity.
func (a *Activities) logger(ctx context.Context) *slog.Logger {
	if !activity.IsActivity(ctx) {
		return a.log
	}
	info := activity.GetInfo(ctx)
	return a.log.With("action", info.ActivityType.Name, "workflow_id", info.WorkflowExecution.ID, "attempt", info.Attempt)
}

// sdkConfig is the SDK configuration of every client: HTTPS for the live
// cloud (HTTP only towards an explicit loopback or private endpoint, the
// sandbox; [New] refuses any other) and the SDK's own retries off, since
// Temporal retries by error class.
func (s *session) sdkConfig() *sdk.Config {
	scheme := "HTTPS"
	if strings.EqualFold(s.acct.Scheme, "http") && s.acct.Endpoint != "" && config.PlainHTTPAllowed(s.acct.Endpoint) {
		scheme = "HTTP"
	}
	return sdk.NewConfig().WithScheme(scheme).WithAutoRetry(false).WithUserAgent("soar")
}

// prepare binds a freshly built client to the invocation: the sandbox
// endpoint if any, the context-aware transport, and a read timeout below the
// activity's deadline.
func (s *session) prepare(c *sdk.Client, domain string) {
	switch {
	case s.acct.Endpoint != "":
		c.Domain = s.acct.Endpoint
	case domain != "":
		c.Domain = domain
	}
	c.SetTransport(ctxTransport{ctx: s.ctx, base: s.a.base})
	c.SetReadTimeout(s.a.callTimeout(s.ctx))
}

// callTimeout is the read timeout of one API call: the configured one, but
// at most 90% of the time the activity has left, so that a hung call fails
// as a retryable timeout before Temporal gives up on the attempt.
func (a *Activities) callTimeout(ctx context.Context) time.Duration {
	t := a.readTimeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) * 9 / 10; left < t {
			t = max(left, 100*time.Millisecond)
		}
	}
	return t
}

// ctxTransport makes one SDK client honour the activity context: the
// classic SDK builds its requests without one.
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

// RoundTrip sends r with the invocation's context.
func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(r.WithContext(t.ctx))
}

// mainland reports whether a region is in the Chinese mainland, which picks
// the endpoint of the products that have only two (WAF 3.0, Anti-DDoS Pro,
// Security Center).
func mainland(region string) bool {
	return strings.HasPrefix(region, "cn-") && region != "cn-hongkong"
}

func (s *session) ecs() (*ecs.Client, error) {
	c, err := ecs.NewClientWithOptions(s.region, s.sdkConfig(), s.cred)
	if err != nil {
		return nil, fmt.Errorf("new ecs client: %w", err)
	}
	s.prepare(&c.Client, "")
	return c, nil
}

func (s *session) ram() (*ram.Client, error) {
	c, err := ram.NewClientWithOptions(s.region, s.sdkConfig(), s.cred)
	if err != nil {
		return nil, fmt.Errorf("new ram client: %w", err)
	}
	s.prepare(&c.Client, "")
	return c, nil
}

// cloudfwRegion is the Cloud Firewall region: the service has a mainland
// and an international site.
func (s *session) cloudfwRegion() string {
	if s.acct.Endpoint != "" || mainland(s.region) {
		return s.region
	}
	return "ap-southeast-1"
}

func (s *session) cloudfw() (*cloudfw.Client, error) {
	c, err := cloudfw.NewClientWithOptions(s.cloudfwRegion(), s.sdkConfig(), s.cred)
	if err != nil {
		return nil, fmt.Errorf("new cloudfw client: %w", err)
	}
	s.prepare(&c.Client, "")
	return c, nil
}

// siteRegion maps a region onto the two sites of WAF 3.0, Anti-DDoS Pro and
// Security Center: the mainland one and ap-southeast-1.
func (s *session) siteRegion(mainlandRegion string) string {
	if s.acct.Endpoint != "" {
		return s.region
	}
	if mainland(s.region) {
		return mainlandRegion
	}
	return "ap-southeast-1"
}

func (s *session) sas() (*sas.Client, error) {
	region := s.siteRegion("cn-shanghai")
	c, err := sas.NewClientWithOptions(region, s.sdkConfig(), s.cred)
	if err != nil {
		return nil, fmt.Errorf("new sas client: %w", err)
	}
	s.prepare(&c.Client, "tds."+region+".aliyuncs.com")
	return c, nil
}

func (s *session) ddoscoo() (*ddoscoo.Client, error) {
	region := s.siteRegion("cn-hangzhou")
	c, err := ddoscoo.NewClientWithOptions(region, s.sdkConfig(), s.cred)
	if err != nil {
		return nil, fmt.Errorf("new ddoscoo client: %w", err)
	}
	s.prepare(&c.Client, "ddoscoo."+region+".aliyuncs.com")
	return c, nil
}

func (s *session) actiontrail() (*actiontrail.Client, error) {
	c, err := actiontrail.NewClientWithOptions(s.region, s.sdkConfig(), s.cred)
	if err != nil {
		return nil, fmt.Errorf("new actiontrail client: %w", err)
	}
	s.prepare(&c.Client, "actiontrail."+s.region+".aliyuncs.com")
	return c, nil
}

// core returns a product-less client for CommonRequest calls (WAF 3.0,
// which has no package in the classic SDK, and parameters a package's
// request struct lacks).
func (s *session) core(region string) (*sdk.Client, error) {
	c, err := sdk.NewClientWithOptions(region, s.sdkConfig(), s.cred)
	if err != nil {
		return nil, fmt.Errorf("new core client: %w", err)
	}
	s.prepare(c, "")
	return c, nil
}

// waf returns a core client for WAF 3.0 and its region (the mainland or
// the international site).
func (s *session) waf() (*sdk.Client, string, error) {
	region := s.siteRegion("cn-hangzhou")
	c, err := s.core(region)
	if err != nil {
		return nil, "", err
	}
	return c, region, nil
}
