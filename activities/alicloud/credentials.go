package alicloud

import (
	"context"
	"fmt"
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

func envOr(name, def string) string {
	if name == "" {
		return def
	}
	return name
}

// credential returns the credentials of an account: the access key (and
// security token, if set) from the variables the account names, or, with a
// role_arn, temporary credentials of that role assumed with them.
func (a *Activities) credential(ctx context.Context, name string, acct config.Account) (auth.Credential, error) {
	idVar := envOr(acct.AccessKeyIDEnv, "ALIBABA_CLOUD_ACCESS_KEY_ID")
	secretVar := envOr(acct.AccessKeySecretEnv, "ALIBABA_CLOUD_ACCESS_KEY_SECRET")
	tokenVar := envOr(acct.SecurityTokenEnv, "ALIBABA_CLOUD_SECURITY_TOKEN")
	id, secret := strings.TrimSpace(a.getenv(idVar)), strings.TrimSpace(a.getenv(secretVar))
	if id == "" {
		return nil, notConfigured("account %s: no access key: the environment variable %s is empty", name, idVar)
	}
	if secret == "" {
		return nil, notConfigured("account %s: no access key secret: the environment variable %s is empty", name, secretVar)
	}
	var base auth.Credential = credentials.NewAccessKeyCredential(id, secret)
	if token := strings.TrimSpace(a.getenv(tokenVar)); token != "" {
		base = credentials.NewStsTokenCredential(id, secret, token)
	}
	p := a.roles[name]
	if p == nil {
		return base, nil
	}
	return p.retrieve(ctx, a, acct, base)
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
	if endpoint != "" && strings.EqualFold(acct.Scheme, "http") {
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
