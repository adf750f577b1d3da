//! haproxy.cfg → typed configuration.
//!
//! The parser reads HAProxy's syntax (sections `global`, `defaults`, `frontend`, `backend`,
//! `listen`), applies `defaults` inheritance, resolves server host names (at load time, as
//! HAProxy does) and checks references. Every problem is a [`Diagnostic`] with file, line and
//! column; keywords HAProxy knows but this proxy does not implement are warnings naming the
//! keyword, unknown words and bad values are errors.

mod lex;
mod parse;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use lex::{split_line, Word};

/// Severity of a [`Diagnostic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The file loads; something is ignored or approximated.
    Warning,
    /// The file does not load.
    Error,
}

/// A problem found in a configuration file, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// File name as given.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.col, sev, self.message
        )
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configuration has errors (warnings found on the way are included).
    #[error("{}", render(.diagnostics))]
    Invalid {
        /// All diagnostics, errors and warnings, in file order.
        diagnostics: Vec<Diagnostic>,
    },
}

fn render(d: &[Diagnostic]) -> String {
    let errors = d.iter().filter(|d| d.severity == Severity::Error).count();
    let mut s = format!("configuration has {errors} error(s)");
    for d in d {
        s.push('\n');
        s.push_str(&d.to_string());
    }
    s
}

/// A loaded configuration and the warnings found while loading it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Warnings (unsupported keywords and the like).
    pub warnings: Vec<Diagnostic>,
}

/// Reads and parses the files in order (like several `-f` options to HAProxy).
pub fn load_files<P: AsRef<Path>>(paths: &[P]) -> Result<Loaded, ConfigError> {
    let mut sources = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Io {
            path: p.to_path_buf(),
            source,
        })?;
        sources.push((p.display().to_string(), text));
    }
    let refs: Vec<(&str, &str)> = sources
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    parse_sources(&refs)
}

/// Parses configuration text; `name` is used in diagnostics.
pub fn parse_str(name: &str, text: &str) -> Result<Loaded, ConfigError> {
    parse_sources(&[(name, text)])
}

/// Parses several (name, text) sources as one configuration.
pub fn parse_sources(sources: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    parse_sources_with(sources, true)
}

/// Like [`parse_str`] but without DNS: server host names that are not IP literals get the
/// unspecified address (for fuzzing and syntax-only checks).
pub fn parse_str_offline(name: &str, text: &str) -> Result<Loaded, ConfigError> {
    parse_sources_with(&[(name, text)], false)
}

fn parse_sources_with(sources: &[(&str, &str)], resolve: bool) -> Result<Loaded, ConfigError> {
    let mut p = parse::Parser::new(resolve);
    for (name, text) in sources {
        p.parse_file(name, text);
    }
    p.finish()
}

/// Proxy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// HTTP/1.1 proxying.
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
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            mode: Mode::Http,
            balance: Balance::RoundRobin,
            timeouts: Timeouts::default(),
            retries: 3,
            maxconn: None,
            forwardfor: false,
            conn_mode: HttpConnMode::KeepAlive,
            redispatch: false,
            httplog: false,
            tcplog: false,
            dontlognull: false,
            ignore_probes: false,
            logs: Vec::new(),
            httpchk: None,
            expect_status: None,
            default_server: ServerParams::default(),
            stats_uri: None,
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

/// The `global` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Global {
    /// `maxconn`: process-wide connection limit.
    pub maxconn: Option<u32>,
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
}

/// TLS options of a `bind` line (parsed; served by the TLS issue).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindTls {
    /// `crt` paths.
    pub crt: Vec<PathBuf>,
    /// `alpn` protocols.
    pub alpn: Vec<String>,
}

/// One listening address of a `bind` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// The address.
    pub addr: SocketAddr,
    /// `ssl` options, if `ssl` was given.
    pub tls: Option<BindTls>,
}

/// What an ACL looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclFetch {
    /// `path`: exact path match.
    Path,
    /// `path_beg`: path prefix.
    PathBeg,
    /// `hdr(name)`: exact header value.
    Hdr(String),
    /// `hdr_beg(name)`: header value prefix.
    HdrBeg(String),
    /// Understood by HAProxy, not here: never matches (a warning was issued).
    Unsupported(String),
}

/// `acl NAME FETCH [-i] VALUE...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// What to look at.
    pub fetch: AclFetch,
    /// `-i`: case-insensitive.
    pub ignore_case: bool,
    /// Patterns; the ACL matches if any matches.
    pub values: Vec<String>,
}

/// One term of a condition: an ACL name, maybe negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// `!acl`.
    pub negate: bool,
    /// The ACL's name in the frontend's ACL table.
    pub acl: String,
}

/// `if|unless` condition: OR of AND-groups of terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `unless` instead of `if`.
    pub unless: bool,
    /// Groups separated by `or`/`||`.
    pub any_of: Vec<Vec<Term>>,
}

/// `use_backend NAME [if|unless COND]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseBackend {
    /// Target backend.
    pub backend: String,
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
    /// ACLs by name.
    pub acls: HashMap<String, Acl>,
    /// `use_backend` rules in order.
    pub use_backends: Vec<UseBackend>,
    /// `default_backend` (a `listen` points to itself).
    pub default_backend: Option<String>,
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
