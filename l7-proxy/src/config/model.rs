//! The typed configuration a haproxy.cfg loads into: `global`, frontends, backends and
//! their servers. TLS settings are in [`super::tls`], rules and samples in [`super::rules`]
//! and [`super::sample`], ACLs in [`super::acl`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::acl::{Acl, Condition};
use super::rules::HttpRule;
use super::tls::{BindTls, GlobalTls, ServerTls};

/// Proxy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// HTTP/1.1 (and HTTP/2 over TLS) proxying.
    #[default]
    Http,
    /// Plain TCP forwarding.
    Tcp,
}

/// Server selection algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balance {
    /// Smooth weighted round robin.
    #[default]
    RoundRobin,
    /// Fewest active connections (weighted).
    LeastConn,
    /// Hash of the client address.
    Source,
    /// First server with a free slot.
    First,
}

/// How HTTP connections are handled (`option http-keep-alive|http-server-close|httpclose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpConnMode {
    /// Keep-alive on both sides (HAProxy's default).
    #[default]
    KeepAlive,
    /// Keep-alive with the client, close each server connection.
    ServerClose,
    /// Close both sides after each response.
    Close,
}

/// Timeouts (`timeout ...`); `None` means not set (infinite, like HAProxy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeouts {
    /// `timeout connect`.
    pub connect: Option<Duration>,
    /// `timeout client`.
    pub client: Option<Duration>,
    /// `timeout server`.
    pub server: Option<Duration>,
    /// `timeout http-request`.
    pub http_request: Option<Duration>,
    /// `timeout http-keep-alive`.
    pub http_keep_alive: Option<Duration>,
    /// `timeout queue`.
    pub queue: Option<Duration>,
    /// `timeout check`.
    pub check: Option<Duration>,
}

/// Per-server parameters (from `server` lines and `default-server`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerParams {
    /// `check`: health-check this server.
    pub check: bool,
    /// `inter` (default 2s).
    pub inter: Duration,
    /// `fastinter` (default: inter).
    pub fastinter: Option<Duration>,
    /// `downinter` (default: inter).
    pub downinter: Option<Duration>,
    /// `rise` (default 2).
    pub rise: u32,
    /// `fall` (default 3).
    pub fall: u32,
    /// `weight` 0..=256 (default 1).
    pub weight: u32,
    /// `backup`.
    pub backup: bool,
    /// `disabled`.
    pub disabled: bool,
    /// `maxconn` (0 = unlimited).
    pub maxconn: u32,
    /// `maxqueue` (0 = unlimited, bounded by the proxy's own limit).
    pub maxqueue: u32,
    /// `ssl`: the connection to the server is TLS (`no-ssl` clears it).
    pub ssl: bool,
    /// The TLS options (`verify`, `ca-file`, `sni`, ...), set with or without `ssl` (a
    /// `default-server` may set them for servers that add `ssl`).
    pub tls: ServerTls,
    /// `check-ssl` / `no-check-ssl`: health checks over TLS (default: with `ssl`).
    pub check_ssl: Option<bool>,
    /// `pool-max-conn`: idle connections kept for reuse (`None`: -1, no limit of its own;
    /// 0: none kept).
    pub pool_max_conn: Option<u32>,
    /// `pool-purge-delay` (default 5s): an idle connection unused this long is closed
    /// (0: only when the server closes it).
    pub pool_purge_delay: Duration,
}

impl Default for ServerParams {
    fn default() -> Self {
        ServerParams {
            check: false,
            inter: Duration::from_secs(2),
            fastinter: None,
            downinter: None,
            rise: 2,
            fall: 3,
            weight: 1,
            backup: false,
            disabled: false,
            maxconn: 0,
            maxqueue: 0,
            ssl: false,
            tls: ServerTls::default(),
            check_ssl: None,
            pool_max_conn: None,
            pool_purge_delay: Duration::from_secs(5),
        }
    }
}

/// `option httpchk` and `http-check expect status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheckConfig {
    /// Method (default OPTIONS).
    pub method: String,
    /// URI (default /).
    pub uri: String,
    /// `Host` header, from HAProxy's `option httpchk GET / HTTP/1.1\r\nHost:\ x` form.
    pub host: Option<String>,
}

/// Settings inherited from `defaults` by frontends, backends and listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySettings {
    /// `mode`.
    pub mode: Mode,
    /// `balance`.
    pub balance: Balance,
    /// `timeout ...`.
    pub timeouts: Timeouts,
    /// `retries` (default 3).
    pub retries: u32,
    /// `maxconn` of a frontend.
    pub maxconn: Option<u32>,
    /// `backlog` of a frontend (its binds' default).
    pub backlog: Option<u32>,
    /// `option forwardfor`.
    pub forwardfor: bool,
    /// `option http-keep-alive|http-server-close|httpclose`.
    pub conn_mode: HttpConnMode,
    /// `option redispatch`.
    pub redispatch: bool,
    /// `option httplog`.
    pub httplog: bool,
    /// `option tcplog`.
    pub tcplog: bool,
    /// `option dontlognull`.
    pub dontlognull: bool,
    /// `option splice-auto|splice-request|splice-response`.
    pub splice: SpliceOptions,
    /// `option http-ignore-probes`: a connection that sends nothing before `timeout
    /// http-request` is closed silently instead of answered 408.
    pub ignore_probes: bool,
    /// The proxy's `log` lines, in order (inherited from `defaults`, cleared by `no log`).
    /// Any line at all turns access logging on.
    pub logs: Vec<ProxyLog>,
    /// `option httpchk`.
    pub httpchk: Option<HttpCheckConfig>,
    /// `http-check expect status N`.
    pub expect_status: Option<u16>,
    /// `default-server`.
    pub default_server: ServerParams,
    /// `stats enable` / `stats uri`: the statistics page is served at this path (HTML, or
    /// HAProxy's CSV with `;csv` appended).
    pub stats_uri: Option<String>,
    /// `stats auth USER:PASSWORD` (several): the page asks for one of these (Basic).
    pub stats_auth: Vec<(String, String)>,
    /// `stats realm`: the realm named in the 401 (default `HAProxy Statistics`).
    pub stats_realm: Option<String>,
    /// `stats refresh`: the HTML page reloads itself this often.
    pub stats_refresh: Option<Duration>,
    /// `stats hide-version`.
    pub stats_hide_version: bool,
    /// `stats show-legends`.
    pub stats_show_legends: bool,
    /// `errorfile CODE PATH`: raw HTTP responses sent instead of the built-in error pages.
    pub errorfiles: HashMap<u16, Arc<[u8]>>,
}

/// `option splice-*` of one proxy: which directions may move bytes with splice(2). A
/// session splices a direction when its frontend or its backend asks for it (as HAProxy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpliceOptions {
    /// `option splice-auto`: both directions, once they stream.
    pub auto: bool,
    /// `option splice-request`: client to server, always.
    pub request: bool,
    /// `option splice-response`: server to client, always.
    pub response: bool,
}

impl SpliceOptions {
    /// Whether any direction may splice.
    pub fn any(self) -> bool {
        self.auto || self.request || self.response
    }

    /// What a session of this frontend (`self`) and that backend splices.
    pub fn with(self, backend: SpliceOptions) -> SpliceOptions {
        SpliceOptions {
            auto: self.auto || backend.auto,
            request: self.request || backend.request,
            response: self.response || backend.response,
        }
    }
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            mode: Mode::Http,
            balance: Balance::RoundRobin,
            timeouts: Timeouts::default(),
            retries: 3,
            maxconn: None,
            backlog: None,
            forwardfor: false,
            conn_mode: HttpConnMode::KeepAlive,
            redispatch: false,
            httplog: false,
            tcplog: false,
            dontlognull: false,
            splice: SpliceOptions::default(),
            ignore_probes: false,
            logs: Vec::new(),
            httpchk: None,
            expect_status: None,
            default_server: ServerParams::default(),
            stats_uri: None,
            stats_auth: Vec::new(),
            stats_realm: None,
            stats_refresh: None,
            stats_hide_version: false,
            stats_show_legends: false,
            errorfiles: HashMap::new(),
        }
    }
}

/// A `log` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// `log stderr ...`.
    Stderr,
    /// `log stdout ...`.
    Stdout,
    /// `log <ip:port> ...` (UDP syslog).
    Udp(SocketAddr),
    /// `log /dev/log ...` (unix datagram syslog).
    Unix(PathBuf),
}

/// One `log` line of a proxy (`frontend`, `backend`, `listen`, `defaults`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyLog {
    /// `log global`: the `global` section's targets.
    Global,
    /// `log <target> [len N] [format F] <facility>`: a target of the proxy's own.
    Own(LogConfig),
}

impl ProxySettings {
    /// Where this proxy's access log lines go: its own targets and, for `log global`, the
    /// global ones, each once, in the order of the lines.
    ///
    /// ```
    /// use l7_proxy::config::{LogConfig, LogTarget, ProxyLog, ProxySettings};
    /// let global = [LogConfig { target: LogTarget::Stderr, facility: 16 }];
    /// let mut s = ProxySettings::default();
    /// s.logs = vec![ProxyLog::Global, ProxyLog::Global];
    /// assert_eq!(s.log_targets(&global), global.to_vec());
    /// ```
    pub fn log_targets(&self, global: &[LogConfig]) -> Vec<LogConfig> {
        let mut out: Vec<LogConfig> = Vec::new();
        for l in &self.logs {
            let add: &[LogConfig] = match l {
                ProxyLog::Global => global,
                ProxyLog::Own(c) => std::slice::from_ref(c),
            };
            for c in add {
                if !out.contains(c) {
                    out.push(c.clone());
                }
            }
        }
        out
    }
}

/// A `log` line of `global`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Where to.
    pub target: LogTarget,
    /// Syslog facility number (local0 = 16).
    pub facility: u8,
}

/// `tune.h2.*`: limits of each HTTP/2 client connection (HAProxy's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H2Limits {
    /// `tune.h2.max-concurrent-streams` (`tune.h2.fe.max-concurrent-streams`): 100.
    pub max_concurrent_streams: u32,
    /// `tune.h2.initial-window-size`: 65535.
    pub initial_window_size: u32,
    /// `tune.h2.max-frame-size`: 16384.
    pub max_frame_size: u32,
    /// `tune.h2.header-table-size`: 4096.
    pub header_table_size: u32,
    /// `tune.h2.max-header-list-size` (HAProxy bounds it by `tune.bufsize`): 16384, the
    /// size of the head buffer of an HTTP/1.1 request.
    pub max_header_list_size: u32,
}

impl Default for H2Limits {
    fn default() -> Self {
        H2Limits {
            max_concurrent_streams: 100,
            initial_window_size: 65_535,
            max_frame_size: 16_384,
            header_table_size: 4096,
            max_header_list_size: 16_384,
        }
    }
}

/// The `global` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Global {
    /// `maxconn`: process-wide connection limit.
    pub maxconn: Option<u32>,
    /// `ulimit-n`: the file limit to run with (default: what `maxconn` needs).
    pub ulimit_n: Option<u32>,
    /// `nbthread`.
    pub nbthread: Option<usize>,
    /// `log` lines.
    pub logs: Vec<LogConfig>,
    /// `user`.
    pub user: Option<String>,
    /// `group`.
    pub group: Option<String>,
    /// `pidfile`.
    pub pidfile: Option<PathBuf>,
    /// `daemon` (ignored: we stay in the foreground).
    pub daemon: bool,
    /// `nosplice`: no splice(2), whatever the proxies' `option splice-*` say.
    pub nosplice: bool,
    /// `maxpipes`: the most pipes splicing holds at once (default: `maxconn` / 4).
    pub maxpipes: Option<u32>,
    /// `ssl-default-*`, `ssl-server-verify`, `tune.ssl.*`, `ca-base`, `crt-base`.
    pub tls: GlobalTls,
    /// `tune.h2.*`.
    pub h2: H2Limits,
}

/// One listening address of a `bind` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// The address.
    pub addr: SocketAddr,
    /// `ssl` options, if `ssl` was given.
    pub tls: Option<Arc<BindTls>>,
    /// `interface NAME`: the socket only receives through that interface (SO_BINDTODEVICE).
    pub interface: Option<String>,
    /// `backlog N` of the bind line.
    pub backlog: Option<u32>,
}

/// `use_backend NAME [if|unless COND]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseBackend {
    /// Target backend.
    pub backend: String,
    /// Condition; `None` always applies.
    pub cond: Option<Condition>,
}

/// When a `tcp-request` rule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpStage {
    /// `tcp-request connection`: at accept, before any TLS handshake.
    Connection,
    /// `tcp-request content`: once the TLS handshake (if any) is done.
    Content,
}

/// `tcp-request connection|content accept|reject [if|unless COND]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpRule {
    /// When it runs.
    pub stage: TcpStage,
    /// `accept` (true) or `reject`.
    pub accept: bool,
    /// Condition; `None` always applies.
    pub cond: Option<Condition>,
}

/// A `frontend` (or the front half of a `listen`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontend {
    /// Name.
    pub name: String,
    /// Listening addresses.
    pub binds: Vec<Bind>,
    /// Settings after inheritance.
    pub settings: ProxySettings,
    /// ACLs by name (every definition of a name; they are ORed, as in HAProxy).
    pub acls: HashMap<String, Vec<Acl>>,
    /// `use_backend` rules in order.
    pub use_backends: Vec<UseBackend>,
    /// `default_backend` (a `listen` points to itself).
    pub default_backend: Option<String>,
    /// `tcp-request` rules in order: the first that applies decides; none accepts.
    pub tcp_rules: Vec<TcpRule>,
    /// `http-request` rules, then `redirect` rules, in order.
    pub http_request: Vec<HttpRule>,
    /// `http-response` rules in order.
    pub http_response: Vec<HttpRule>,
}

/// A `server` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Name.
    pub name: String,
    /// Address as written (host name or IP, with port).
    pub address: String,
    /// Resolved address.
    pub addr: SocketAddr,
    /// Parameters after `default-server`.
    pub params: ServerParams,
}

/// A `backend` (or the back half of a `listen`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// Name.
    pub name: String,
    /// Settings after inheritance.
    pub settings: ProxySettings,
    /// Servers in order.
    pub servers: Vec<Server>,
    /// `http-request` rules (and `redirect` rules) run once this backend is chosen.
    pub http_request: Vec<HttpRule>,
    /// `http-response` rules, run before the frontend's.
    pub http_response: Vec<HttpRule>,
}

/// A whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// `global`.
    pub global: Global,
    /// Frontends and listens, in order.
    pub frontends: Vec<Frontend>,
    /// Backends and listens, in order.
    pub backends: Vec<Backend>,
}

impl Config {
    /// The backend called `name`.
    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.backends.iter().find(|b| b.name == name)
    }
}

/// Parses an HAProxy time value (`10s`, `500ms`, `1m`; no unit = milliseconds).
pub fn parse_time(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() || num.len() > 12 {
        return None;
    }
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "" | "ms" => Duration::from_millis(n),
        "us" => Duration::from_micros(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86400)?),
        _ => return None,
    })
}
