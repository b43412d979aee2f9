package alicloud

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/opensoar/soar/internal/config"
)

const (
	// roleDuration is how long an assumed role's credentials are asked for.
	roleDuration = time.Hour
	// roleRefreshMargin is how long before expiry cached role credentials
	// are refreshed, so that no call is signed with nearly expired ones.
	roleRefreshMargin = 5 * time.Minute
)

// The standard variables soar reads besides those an account names (see
// credential and roleFromEnv).
const (
	envRoleARN         = "ALIBABA_CLOUD_ROLE_ARN"
	envRoleSessionName = "ALIBABA_CLOUD_ROLE_SESSION_NAME"
	envECSRole         = "ALIBABA_CLOUD_ECS_METADATA"
	envIMDSv1Disabled  = "ALIBABA_CLOUD_IMDSV1_DISABLED"
	// DefaultMetadataURL is the ECS instance metadata service.
	DefaultMetadataURL = "http://100.100.100.200"
)

func envOr(name, def string) string {
	if name == "" {
		return def
	}
	return name
}

// roleFromEnv gives the default account without a role_arn the role of
// ALIBABA_CLOUD_ROLE_ARN (and ALIBABA_CLOUD_ROLE_SESSION_NAME), as
// ALIBABA_CLOUD_REGION_ID gives it its region.
func (a *Activities) roleFromEnv(acct config.Account) config.Account {
	if acct.RoleARN != "" {
		return acct
	}
	if arn := strings.TrimSpace(a.getenv(envRoleARN)); arn != "" {
		acct.RoleARN = arn
		if acct.RoleSessionName == "" {
			acct.RoleSessionName = strings.TrimSpace(a.getenv(envRoleSessionName))
		}
	}
	return acct
}

// credential returns the credentials of an account: the access key (and
// security token, if set) from the variables the account names, else, for
// the default account on an ECS instance, the instance RAM role named by
// ALIBABA_CLOUD_ECS_METADATA (from the metadata service); with a role_arn
// (or ALIBABA_CLOUD_ROLE_ARN for the default account), temporary
// credentials of that role assumed with them.
func (a *Activities) credential(ctx context.Context, name string, acct config.Account) (auth.Credential, error) {
	idVar := envOr(acct.AccessKeyIDEnv, "ALIBABA_CLOUD_ACCESS_KEY_ID")
	secretVar := envOr(acct.AccessKeySecretEnv, "ALIBABA_CLOUD_ACCESS_KEY_SECRET")
	tokenVar := envOr(acct.SecurityTokenEnv, "ALIBABA_CLOUD_SECURITY_TOKEN")
	id, secret := strings.TrimSpace(a.getenv(idVar)), strings.TrimSpace(a.getenv(secretVar))
	var base auth.Credential
	switch ecsRole := strings.TrimSpace(a.getenv(envECSRole)); {
	case id == "" && ecsRole != "" && name == a.defaultAccount:
		cred, err := a.instanceRole.retrieve(ctx, a, ecsRole, strings.EqualFold(a.getenv(envIMDSv1Disabled), "true"))
		if err != nil {
			return nil, err
		}
		base = cred
	case id == "":
		return nil, notConfigured("account %s: no access key: the environment variable %s is empty (or, on an ECS instance, name its RAM role in %s)", name, idVar, envECSRole)
	case secret == "":
		return nil, notConfigured("account %s: no access key secret: the environment variable %s is empty", name, secretVar)
	default:
		base = credentials.NewAccessKeyCredential(id, secret)
		if token := strings.TrimSpace(a.getenv(tokenVar)); token != "" {
			base = credentials.NewStsTokenCredential(id, secret, token)
		}
	}
	p := a.roles[name]
	if p == nil {
		return base, nil
	}
	return p.retrieve(ctx, a, acct, base)
}

// instanceRoleProvider reads the temporary credentials of the ECS
// instance's RAM role from the metadata service (IMDSv2: a session token
// from PUT /latest/api/token, then GET
// /latest/meta-data/ram/security-credentials/<role>) and caches them until
// five minutes before they expire. Without a session token it falls back
// to IMDSv1 unless ALIBABA_CLOUD_IMDSV1_DISABLED is true. It talks to
// the metadata service directly, whatever HTTP_PROXY says. Safe for
// concurrent use.
type instanceRoleProvider struct {
	url string

	mu sync.Mutex
	// transport is the provider's own, built on first use by
	// metadataTransport: never the shared base transport.
	transport http.RoundTripper
	role      string
	cred      *credentials.StsTokenCredential
	expires   time.Time
}

// metadataTransport is the transport to the metadata service: direct,
// never through a proxy. The shared base transport follows HTTP_PROXY
// (http.ProxyFromEnvironment), and the metadata service is plain HTTP, so
// a proxy would see the instance role's credentials in clear.
func metadataTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	return t
}

// retrieve returns cached credentials of role, or reads them.
func (p *instanceRoleProvider) retrieve(ctx context.Context, a *Activities, role string, v1Disabled bool) (auth.Credential, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cred != nil && p.role == role && time.Now().Before(p.expires.Add(-roleRefreshMargin)) {
		return p.cred, nil
	}
	if !idRE.MatchString(role) {
		return nil, notConfigured("%s %q is not a RAM role name", envECSRole, role)
	}
	ctx, cancel := context.WithTimeout(ctx, a.callTimeout(ctx))
	defer cancel()
	if p.transport == nil {
		p.transport = metadataTransport()
	}
	client := &http.Client{Transport: ctxTransport{ctx: ctx, base: p.transport}}
	token, err := p.sessionToken(ctx, client)
	if err != nil && v1Disabled {
		return nil, fmt.Errorf("ecs metadata: session token (IMDSv1 is disabled): %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/latest/meta-data/ram/security-credentials/"+role, nil)
	if err != nil {
		return nil, notConfigured("ecs metadata url %q: %v", p.url, err)
	}
	if token != "" {
		req.Header.Set("X-aliyun-ecs-metadata-token", token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ecs metadata: credentials of the RAM role %s: %w", role, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("ecs metadata: credentials of the RAM role %s: %w", role, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, notConfigured("ecs metadata: the instance has no RAM role %s (%s)", role, envECSRole)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("ecs metadata: credentials of the RAM role %s: HTTP %d: %s", role, resp.StatusCode, oneLine(string(body)))
	}
	var cr struct {
		Code, AccessKeyId, AccessKeySecret, SecurityToken, Expiration string
	}
	if err := json.Unmarshal(body, &cr); err != nil {
		return nil, fmt.Errorf("ecs metadata: credentials of the RAM role %s: %w", role, err)
	}
	if cr.Code != "Success" || cr.AccessKeyId == "" || cr.AccessKeySecret == "" || cr.SecurityToken == "" {
		return nil, fmt.Errorf("ecs metadata: credentials of the RAM role %s: code %q, incomplete answer", role, cr.Code)
	}
	expires, err := time.Parse(time.RFC3339, cr.Expiration)
	if err != nil {
		// Without a usable expiry, read them again next time.
		expires = time.Now().Add(roleRefreshMargin)
	}
	p.role, p.expires = role, expires
	p.cred = credentials.NewStsTokenCredential(cr.AccessKeyId, cr.AccessKeySecret, cr.SecurityToken)
	a.log.Info("read the ECS instance RAM role's credentials", "role", role, "expires", expires)
	return p.cred, nil
}

// sessionToken asks the metadata service for an IMDSv2 session token.
func (p *instanceRoleProvider) sessionToken(ctx context.Context, client *http.Client) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.url+"/latest/api/token", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-aliyun-ecs-metadata-token-ttl-seconds", "21600")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return strings.TrimSpace(string(body)), nil
}

// roleProvider assumes an account's RAM role through STS AssumeRole and
// caches the temporary credentials until shortly before they expire. Unlike
// the SDK's built-in provider (HTTPS only, no context) it honours the
// account's endpoint and scheme, so it works against the sandbox, and the
// activity context cancels it. Safe for concurrent use.
type roleProvider struct {
	account string

	mu      sync.Mutex
	cred    *credentials.StsTokenCredential
	expires time.Time
}

// retrieve returns cached credentials, or assumes the role. The mutex is
// held across the STS call so that concurrent invocations refresh once.
func (p *roleProvider) retrieve(ctx context.Context, a *Activities, acct config.Account, base auth.Credential) (auth.Credential, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cred != nil && time.Now().Before(p.expires.Add(-roleRefreshMargin)) {
		return p.cred, nil
	}
	cfg := sdk.NewConfig().WithScheme("HTTPS").WithAutoRetry(false).WithUserAgent("soar")
	endpoint := acct.STSEndpoint
	if endpoint == "" {
		endpoint = acct.Endpoint
	}
	if endpoint != "" && strings.EqualFold(acct.Scheme, "http") && config.PlainHTTPAllowed(endpoint) {
		cfg = cfg.WithScheme("HTTP")
	}
	c, err := sts.NewClientWithOptions(acct.Region, cfg, base)
	if err != nil {
		return nil, fmt.Errorf("account %s: new sts client: %w", p.account, err)
	}
	if endpoint != "" {
		c.Domain = endpoint
	}
	c.SetTransport(ctxTransport{ctx: ctx, base: a.base})
	c.SetReadTimeout(a.callTimeout(ctx))
	req := sts.CreateAssumeRoleRequest()
	req.RoleArn = acct.RoleARN
	req.RoleSessionName = acct.RoleSessionName
	if req.RoleSessionName == "" {
		req.RoleSessionName = "soar"
	}
	req.DurationSeconds = requests.NewInteger(int(roleDuration / time.Second))
	resp, err := c.AssumeRole(req)
	if err != nil {
		return nil, classify("sts.AssumeRole "+acct.RoleARN, err)
	}
	cr := resp.Credentials
	if cr.AccessKeyId == "" || cr.AccessKeySecret == "" || cr.SecurityToken == "" {
		return nil, fmt.Errorf("sts.AssumeRole %s: response without credentials (request %s)", acct.RoleARN, resp.RequestId)
	}
	expires, err := time.Parse(time.RFC3339, cr.Expiration)
	if err != nil {
		// Without a usable expiry, trust the asked-for duration.
		expires = time.Now().Add(roleDuration)
	}
	p.cred = credentials.NewStsTokenCredential(cr.AccessKeyId, cr.AccessKeySecret, cr.SecurityToken)
	p.expires = expires
	a.log.Info("assumed role", "account", p.account, "role_arn", acct.RoleARN, "expires", expires)
	return p.cred, nil
}
