package devstack

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	clusterName = "active"
	storeName   = "sqlite-default"
	// internalHost is where history, matching and the internal worker
	// listen; only the frontend follows --temporal-addr.
	internalHost = "127.0.0.1"
)

// temporalConfig is what newTemporalServer needs, resolved by Start.
type temporalConfig struct {
	frontend  endpoint // bind address of the frontend gRPC API
	dbPath    string   // SQLite file; "" = in memory
	namespace string
	retention time.Duration
	logger    *slog.Logger // already filtered to the server log level
}

// newTemporalServer builds (but does not start) the Temporal server the way
// `temporal server start-dev` does: the four services in this process on
// static hosts, one history shard, SQLite for persistence and visibility.
// It creates the database schema when the file is new and pre-creates the
// namespace with soar's search attributes.
func newTemporalServer(tc temporalConfig) (*temporalServer, error) {
	sqlConf, err := prepareSQLite(tc)
	if err != nil {
		return nil, err
	}

	ports := make(map[primitives.ServiceName]int, 4)
	ports[primitives.FrontendService] = tc.frontend.port
	for _, svc := range []primitives.ServiceName{primitives.HistoryService, primitives.MatchingService, primitives.WorkerService} {
		p, err := freePort(internalHost)
		if err != nil {
			return nil, fmt.Errorf("temporal %s service: %w", svc, err)
		}
		ports[svc] = p
	}
	httpPort, err := freePort(tc.frontend.host)
	if err != nil {
		return nil, fmt.Errorf("temporal frontend http api: %w", err)
	}
	frontendDial := tc.frontend.advertised()

	var conf config.Config
	conf.Global.Membership = config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: internalHost}
	conf.Persistence = config.Persistence{
		DefaultStore:     storeName,
		VisibilityStore:  storeName,
		NumHistoryShards: 1, // fixed for the life of the database
		DataStores:       map[string]config.DataStore{storeName: {SQL: sqlConf}},
	}
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontendDial.String(),
				HTTPAddress:            endpoint{host: frontendDial.host, port: httpPort}.String(),
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = make(map[string]config.Service, len(ports))
	for svc, port := range ports {
		var s config.Service
		s.RPC.GRPCPort = port
		s.RPC.BindOnIP = internalHost
		if svc == primitives.FrontendService {
			s.RPC.BindOnIP = tc.frontend.host
			// The frontend's HTTP API, as the CLI dev server has it; without
			// it the server warns on every start that Nexus is unavailable.
			s.RPC.HTTPPort = httpPort
		}
		conf.Services[string(svc)] = s
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	// Required: the server panics without it (see temporaltest's lite server).
	conf.PublicClient.HostPort = frontendDial.String()

	hosts := make(map[primitives.ServiceName]static.Hosts, len(ports))
	for svc, port := range ports {
		host := internalHost
		if svc == primitives.FrontendService {
			host = frontendDial.host
		}
		hosts[svc] = static.SingleLocalHost(endpoint{host: host, port: port}.String())
	}

	fatal := &fatalRecorder{}
	logger := temporalLogger{l: tc.logger, fatal: fatal}
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("create temporal authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("create temporal claim mapper: %w", err)
	}
	ts := &temporalServer{fatal: fatal}
	err = callServer(fatal, func() error {
		var err error
		ts.srv, err = temporal.NewServer(
			temporal.WithConfig(&conf),
			temporal.ForServices(temporal.DefaultServices),
			temporal.WithStaticHosts(hosts),
			temporal.WithLogger(logger),
			temporal.WithAuthorizer(authorizer),
			temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
			temporal.WithDynamicConfigClient(dynamicConfig()),
			temporal.WithChainedFrontendGrpcInterceptors(stampPrincipal),
		)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create temporal server: %w", err)
	}
	return ts, nil
}

// temporalServer is a Temporal server whose panics become errors.
type temporalServer struct {
	srv   temporal.Server
	fatal *fatalRecorder
}

func (t *temporalServer) start() error { return callServer(t.fatal, t.srv.Start) }
func (t *temporalServer) stop() error  { return callServer(t.fatal, t.srv.Stop) }

// callServer runs f and turns a panic into an error. The server logs Fatal
// and carries on, expecting the logger to have exited; with ours it then
// dereferences what failed, e.g. a nil listener when a port was taken after
// Start checked it. The error carries the fatal message.
func callServer(fatal *fatalRecorder, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if cause := fatal.String(); cause != "" {
				err = fmt.Errorf("%s (then panicked: %v)", cause, r)
			} else {
				err = fmt.Errorf("panic: %v", r)
			}
		}
	}()
	return f()
}

// dynamicConfig is the CLI dev server's dynamic config, minus its
// standalone-activity flags, which soar does not use, plus no version check.
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// A small mutable-state cache suits one process with few workflows.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8096,
		// The UI lists and counts workflows often; the default 10 RPS throttles it.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// Search attributes added at start-up must be usable at once.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		dynamicconfig.ForceNexusEndpointRefreshOnRead.Key():         true,
		// Bypassing those caches costs persistence reads: raise the limits.
		dynamicconfig.FrontendPersistenceMaxQPS.Key(): 10000,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():  45000,
		// No periodic call to Temporal's version-check service from a
		// developer's machine (TEMPORAL_VERSION_CHECK_DISABLED does the same).
		dynamicconfig.EnableServerVersionCheck.Key(): false,
	}
}

// prepareSQLite returns the SQLite configuration, creating the schema in a
// new database file and the namespace in any database.
func prepareSQLite(tc temporalConfig) (*config.SQL, error) {
	conf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if tc.dbPath == "" {
		// The plugin sets the schema up on first connection. The name is
		// random because the plugin keeps every database open for the life
		// of the process, keyed by name.
		conf.DatabaseName = "soar-" + strconv.FormatUint(rand.Uint64(), 36)
		conf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
	} else {
		conf.DatabaseName = tc.dbPath
		// Keys other than SQLite URI parameters become _pragma=K=V; they must
		// not carry a leading "_" (temporaltest's lite server gets this wrong).
		// WAL with synchronous=normal measured ~9x the workflow throughput of
		// the default rollback journal; a power loss may drop the last
		// transactions but does not corrupt the file.
		conf.ConnectAttributes = map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "normal"}
		if _, err := os.Stat(tc.dbPath); errors.Is(err, fs.ErrNotExist) {
			if err := sqliteschema.SetupSchema(conf); err != nil {
				// Leave no half-made database: the next start would skip setup.
				for _, suffix := range []string{"", "-wal", "-shm"} {
					_ = os.Remove(tc.dbPath + suffix)
				}
				return nil, fmt.Errorf("set up temporal schema in %s: %w", tc.dbPath, err)
			}
		} else if err != nil {
			return nil, fmt.Errorf("check temporal database: %w", err)
		}
	}

	nsConf, err := sqliteschema.NewNamespaceConfig(clusterName, tc.namespace, false, SearchAttributes())
	if err != nil {
		return nil, fmt.Errorf("configure namespace %s: %w", tc.namespace, err)
	}
	// NewNamespaceConfig hard-codes 24 h; set ours for a new namespace.
	// ensureNamespace fixes an existing one.
	nsConf.Detail.Config.Retention = durationpb.New(tc.retention)
	// A no-op when the namespace exists.
	if err := sqliteschema.CreateNamespaces(conf, nsConf); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", tc.namespace, err)
	}
	return conf, nil
}
