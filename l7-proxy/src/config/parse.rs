//! The section/keyword parser behind [`super::parse_sources`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;

use super::lex::{split_line, Word};
use super::*;

/// Section keywords HAProxy has that we skip (with one warning per section).
const IGNORED_SECTIONS: &[&str] = &[
    "peers",
    "resolvers",
    "userlist",
    "program",
    "http-errors",
    "cache",
    "mailers",
    "ring",
    "fcgi-app",
    "crt-store",
    "traces",
];

/// `global` keywords HAProxy knows that are not implemented: warning, ignored.
const GLOBAL_UNSUPPORTED: &[&str] = &[
    "chroot",
    "ca-base",
    "crt-base",
    "stats",
    "uid",
    "gid",
    "log-send-hostname",
    "log-tag",
    "nbproc",
    "cpu-map",
    "master-worker",
    "hard-stop-after",
    "ulimit-n",
    "spread-checks",
    "node",
    "description",
    "maxsslconn",
    "maxconnrate",
    "maxsessrate",
    "ssl-dh-param-file",
    "ssl-default-bind-ciphers",
    "ssl-default-bind-ciphersuites",
    "ssl-default-bind-options",
    "ssl-default-server-ciphers",
    "ssl-default-server-ciphersuites",
    "ssl-default-server-options",
    "ssl-server-verify",
    "setenv",
    "presetenv",
    "resetenv",
    "unsetenv",
    "server-state-file",
    "server-state-base",
    "h1-case-adjust",
    "lua-load",
    "insecure-fork-wanted",
    "expose-experimental-directives",
    "quiet",
    "localpeer",
    "external-check",
    "set-dumpable",
    "pp2-never-send-local",
    "busy-polling",
    "numa-cpu-mapping",
    "thread-groups",
    "default-path",
    "httpclient.resolvers.disabled",
    "noepoll",
    "nosplice",
    "profiling.tasks",
    "zero-warning",
    "strict-limits",
    "maxpipes",
    "maxcomprate",
    "maxcompcpuusage",
    "maxzlibmem",
    "noreuseport",
    "nosplice",
    "noepoll",
    "nopoll",
    "nokqueue",
    "noevports",
    "nogetaddrinfo",
    "debug",
    "log-send-hostname",
    "unix-bind",
    "ssl-engine",
    "ssl-mode-async",
    "ssl-load-extra-files",
    "ssl-skip-self-issued-ca",
    "issuers-chain-path",
    "wurfl-data-file",
    "wurfl-information-list",
    "wurfl-information-list-separator",
    "wurfl-cache-size",
    "51degrees-data-file",
    "deviceatlas-json-file",
    "fd-hard-limit",
    "cluster-secret",
    "h2-workaround-bogus-websocket-clients",
    "mworker-max-reloads",
    "prealloc-fd",
];

/// Proxy/defaults keywords HAProxy knows that are not implemented: warning, ignored.
const PROXY_UNSUPPORTED: &[&str] = &[
    "http-request",
    "http-response",
    "http-after-response",
    "http-reuse",
    "http-error",
    "compression",
    "capture",
    "errorfile",
    "errorfiles",
    "errorloc",
    "errorloc302",
    "errorloc303",
    "cookie",
    "hash-type",
    "hash-balance-factor",
    "tcp-request",
    "tcp-response",
    "tcp-check",
    "log-format",
    "log-format-sd",
    "log-tag",
    "error-log-format",
    "monitor-uri",
    "monitor",
    "unique-id-format",
    "unique-id-header",
    "rate-limit",
    "redirect",
    "fullconn",
    "source",
    "stick-table",
    "stick",
    "filter",
    "description",
    "id",
    "disabled",
    "enabled",
    "email-alert",
    "server-template",
    "use-server",
    "dispatch",
    "retry-on",
    "external-check",
    "bind-process",
    "persist",
    "force-persist",
    "ignore-persist",
    "load-server-state-from-file",
    "server-state-file-name",
    "max-keep-alive-queue",
    "backlog",
    "http-send-name-header",
    "declare",
    "grace",
    "guid",
];

/// `option` names HAProxy knows that are not implemented.
const OPTION_UNSUPPORTED: &[&str] = &[
    "abortonclose",
    "accept-invalid-http-request",
    "accept-invalid-http-response",
    "allbackups",
    "checkcache",
    "clitcpka",
    "srvtcpka",
    "tcpka",
    "contstats",
    "disable-h2-upgrade",
    "http-buffer-request",
    "http-no-delay",
    "http-pretend-keepalive",
    "http-restrict-req-hdr-names",
    "http-use-proxy-header",
    "httpslog",
    "h1-case-adjust-bogus-client",
    "h1-case-adjust-bogus-server",
    "independent-streams",
    "ldap-check",
    "log-health-checks",
    "log-separate-errors",
    "logasap",
    "mysql-check",
    "nolinger",
    "originalto",
    "persist",
    "pgsql-check",
    "prefer-last-server",
    "redis-check",
    "smtpchk",
    "socket-stats",
    "splice-auto",
    "splice-request",
    "splice-response",
    "spop-check",
    "ssl-hello-chk",
    "tcp-check",
    "tcp-smart-accept",
    "tcp-smart-connect",
    "transparent",
    "external-check",
    "idle-close-on-response",
    "http_proxy",
    "dontlog-normal",
    "http-drop-request-trailers",
    "http-drop-response-trailers",
    "ssl-hello-chk",
    "log-health-checks",
    "http-use-htx",
];

/// Server keywords HAProxy knows that are not implemented, and whether they take a value.
const SERVER_UNSUPPORTED: &[(&str, bool)] = &[
    ("ssl", false),
    ("no-ssl", false),
    ("verify", true),
    ("verifyhost", true),
    ("ca-file", true),
    ("crl-file", true),
    ("crt", true),
    ("sni", true),
    ("cookie", true),
    ("check-ssl", false),
    ("check-sni", true),
    ("check-send-proxy", false),
    ("check-proto", true),
    ("check-alpn", true),
    ("port", true),
    ("addr", true),
    ("send-proxy", false),
    ("send-proxy-v2", false),
    ("resolvers", true),
    ("resolve-prefer", true),
    ("resolve-opts", true),
    ("init-addr", true),
    ("agent-check", false),
    ("agent-port", true),
    ("agent-inter", true),
    ("slowstart", true),
    ("observe", true),
    ("on-error", true),
    ("on-marked-down", true),
    ("on-marked-up", true),
    ("error-limit", true),
    ("id", true),
    ("track", true),
    ("proto", true),
    ("alpn", true),
    ("npn", true),
    ("tfo", false),
    ("pool-max-conn", true),
    ("pool-purge-delay", true),
    ("pool-low-conn", true),
    ("minconn", true),
    ("redir", true),
    ("namespace", true),
    ("ws", true),
    ("ciphers", true),
    ("ciphersuites", true),
    ("ssl-min-ver", true),
    ("ssl-max-ver", true),
    ("no-sslv3", false),
    ("no-tlsv10", false),
    ("no-tlsv11", false),
    ("force-tlsv12", false),
    ("max-reuse", true),
    ("source", true),
    ("usesrc", true),
    ("tcp-ut", true),
    ("enabled", false),
    ("socks4", true),
    ("check-via-socks4", false),
    ("curves", true),
    ("sigalgs", true),
    ("client-sigalgs", true),
    ("allow-0rtt", false),
    ("ssl-reuse", false),
    ("no-ssl-reuse", false),
    ("tls-tickets", false),
    ("no-tls-tickets", false),
    ("no-tlsv12", false),
    ("no-tlsv13", false),
    ("force-tlsv13", false),
    ("non-stick", false),
    ("stick", false),
    ("proxy-v2-options", true),
    ("set-proxy-v2-tlv-fmt", true),
    ("shard", true),
    ("log-proto", true),
    ("hash-key", true),
    ("agent-send", true),
    ("agent-addr", true),
    ("no-agent-check", false),
    ("no-send-proxy", false),
    ("no-send-proxy-v2", false),
    ("no-verifyhost", false),
    ("no-check-ssl", false),
    ("no-tfo", false),
    ("check-pool-conn-name", true),
    ("pool-conn-name", true),
    ("sni-auto", false),
    ("send-proxy-v2-ssl", false),
    ("send-proxy-v2-ssl-cn", false),
    ("check-send-proxy-v2", false),
];

/// Bind keywords HAProxy knows that are not implemented, and whether they take a value.
const BIND_UNSUPPORTED: &[(&str, bool)] = &[
    ("accept-proxy", false),
    ("v4v6", false),
    ("v6only", false),
    ("transparent", false),
    ("defer-accept", false),
    ("tfo", false),
    ("strict-sni", false),
    ("prefer-client-ciphers", false),
    ("no-sslv3", false),
    ("no-tlsv10", false),
    ("no-tlsv11", false),
    ("force-tlsv12", false),
    ("generate-certificates", false),
    ("allow-0rtt", false),
    ("name", true),
    ("interface", true),
    ("mss", true),
    ("backlog", true),
    ("maxconn", true),
    ("process", true),
    ("thread", true),
    ("ciphers", true),
    ("ciphersuites", true),
    ("ssl-min-ver", true),
    ("ssl-max-ver", true),
    ("curves", true),
    ("ecdhe", true),
    ("ca-file", true),
    ("crl-file", true),
    ("verify", true),
    ("crt-list", true),
    ("npn", true),
    ("level", true),
    ("mode", true),
    ("user", true),
    ("group", true),
    ("uid", true),
    ("gid", true),
    ("id", true),
    ("nice", true),
    ("tcp-ut", true),
    ("namespace", true),
    ("proto", true),
    ("accept-netscaler-cip", true),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Frontend,
    Backend,
    Listen,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Frontend => "frontend",
            Kind::Backend => "backend",
            Kind::Listen => "listen",
        }
    }
    fn has_front(self) -> bool {
        self != Kind::Backend
    }
    fn has_back(self) -> bool {
        self != Kind::Frontend
    }
}

#[derive(Debug, Clone)]
struct Pos {
    file: Arc<str>,
    line: usize,
    col: usize,
}

#[derive(Debug)]
struct PendingServer {
    name: String,
    address: String,
    pos: Pos,
    params: ServerParams,
}

/// A `use_backend` rule, the position of its backend name, and its ACL references.
type RuleBuild = (UseBackend, Pos, Vec<(String, Pos)>);

#[derive(Debug)]
struct ProxyBuild {
    kind: Kind,
    name: String,
    pos: Pos,
    settings: ProxySettings,
    binds: Vec<Bind>,
    acls: HashMap<String, Acl>,
    /// Rules with the position of the backend name, for reference checks.
    use_backends: Vec<RuleBuild>,
    default_backend: Option<(String, Pos)>,
    servers: Vec<PendingServer>,
    anon_acls: usize,
}

#[derive(Debug, Default)]
enum Section {
    #[default]
    None,
    Global,
    Defaults(Option<String>),
    Proxy(Box<ProxyBuild>),
    Ignored,
}

/// Accumulates files into one configuration.
#[derive(Debug, Default)]
pub(super) struct Parser {
    diags: Vec<Diagnostic>,
    global: Global,
    defaults: ProxySettings,
    named_defaults: HashMap<String, ProxySettings>,
    section: Section,
    proxies: Vec<ProxyBuild>,
    file: Arc<str>,
    line: usize,
    offline: bool,
}

impl Parser {
    pub(super) fn new(resolve: bool) -> Parser {
        Parser {
            offline: !resolve,
            ..Parser::default()
        }
    }

    fn diag(&mut self, severity: Severity, col: usize, message: String) {
        self.diags.push(Diagnostic {
            severity,
            file: self.file.clone(),
            line: self.line,
            col,
            message,
        });
    }
    fn err(&mut self, col: usize, message: impl Into<String>) {
        self.diag(Severity::Error, col, message.into());
    }
    fn warn(&mut self, col: usize, message: impl Into<String>) {
        self.diag(Severity::Warning, col, message.into());
    }
    fn pos(&self, col: usize) -> Pos {
        Pos {
            file: self.file.clone(),
            line: self.line,
            col,
        }
    }

    pub(super) fn parse_file(&mut self, name: &str, text: &str) {
        self.file = Arc::from(name);
        for (i, line) in text.lines().enumerate() {
            self.line = i + 1;
            let words = match split_line(line) {
                Ok(w) => w,
                Err((msg, col)) => {
                    self.err(col, msg);
                    continue;
                }
            };
            if words.is_empty() {
                continue;
            }
            self.statement(&words);
        }
        // Sections do not continue across files.
        self.close_section();
    }

    fn close_section(&mut self) {
        match std::mem::take(&mut self.section) {
            Section::Proxy(p) => self.proxies.push(*p),
            Section::Defaults(Some(name)) => {
                self.named_defaults.insert(name, self.defaults.clone());
            }
            _ => {}
        }
    }

    fn statement(&mut self, w: &[Word]) {
        let kw = w[0].text.as_str();
        match kw {
            "global" => {
                self.close_section();
                self.section = Section::Global;
                return;
            }
            "defaults" => {
                self.close_section();
                // A new defaults section starts from scratch (HAProxy resets it), unless
                // it says `from NAME`.
                let mut name = None;
                let mut base = ProxySettings::default();
                let mut i = 1;
                while i < w.len() {
                    if w[i].text == "from" {
                        match w.get(i + 1) {
                            Some(n) => match self.named_defaults.get(&n.text) {
                                Some(d) => base = d.clone(),
                                None => self
                                    .err(n.col, format!("unknown defaults section '{}'", n.text)),
                            },
                            None => self.err(w[i].col, "'from' needs a defaults section name"),
                        }
                        i += 2;
                    } else {
                        name = Some(w[i].text.clone());
                        i += 1;
                    }
                }
                self.defaults = base;
                self.section = Section::Defaults(name);
                return;
            }
            "frontend" | "backend" | "listen" => {
                self.close_section();
                let kind = match kw {
                    "frontend" => Kind::Frontend,
                    "backend" => Kind::Backend,
                    _ => Kind::Listen,
                };
                let Some(name) = w.get(1) else {
                    self.err(w[0].col, format!("'{kw}' needs a name"));
                    self.section = Section::Ignored;
                    return;
                };
                if !valid_name(&name.text) {
                    self.err(name.col, format!("invalid {kw} name '{}'", name.text));
                }
                let mut settings = self.defaults.clone();
                let mut rest = &w[2..];
                if rest.first().map(|x| x.text.as_str()) == Some("from") {
                    match rest.get(1) {
                        Some(n) => match self.named_defaults.get(&n.text) {
                            Some(d) => settings = d.clone(),
                            None => {
                                self.err(n.col, format!("unknown defaults section '{}'", n.text))
                            }
                        },
                        None => self.err(rest[0].col, "'from' needs a defaults section name"),
                    }
                    rest = rest.get(2..).unwrap_or(&[]);
                }
                let mut p = Box::new(ProxyBuild {
                    kind,
                    name: name.text.clone(),
                    pos: self.pos(name.col),
                    settings,
                    binds: Vec::new(),
                    acls: HashMap::new(),
                    use_backends: Vec::new(),
                    default_backend: None,
                    servers: Vec::new(),
                    anon_acls: 0,
                });
                if !rest.is_empty() {
                    // Old syntax: `listen NAME ADDR:PORT`.
                    if kind == Kind::Backend {
                        self.err(
                            rest[0].col,
                            format!("unexpected '{}' after backend name", rest[0].text),
                        );
                    } else {
                        self.bind_addrs(&mut p, &rest[0]);
                        if let Some(x) = rest.get(1) {
                            self.err(x.col, format!("unexpected '{}'", x.text));
                        }
                    }
                }
                self.section = Section::Proxy(p);
                return;
            }
            _ => {}
        }
        if IGNORED_SECTIONS.contains(&kw) {
            self.close_section();
            self.warn(
                w[0].col,
                format!("section '{kw}' is not supported; ignored"),
            );
            self.section = Section::Ignored;
            return;
        }
        match std::mem::take(&mut self.section) {
            Section::None => {
                self.err(w[0].col, format!("unknown keyword '{kw}' out of section"));
            }
            Section::Ignored => self.section = Section::Ignored,
            Section::Global => {
                self.global_kw(w);
                self.section = Section::Global;
            }
            Section::Defaults(name) => {
                let mut s = std::mem::take(&mut self.defaults);
                self.settings_kw(&mut s, w, "defaults", true);
                self.defaults = s;
                self.section = Section::Defaults(name);
            }
            Section::Proxy(mut p) => {
                self.proxy_kw(&mut p, w);
                self.section = Section::Proxy(p);
            }
        }
    }

    fn global_kw(&mut self, w: &[Word]) {
        let kw = w[0].text.as_str();
        match kw {
            "maxconn" => self.global.maxconn = self.num(w, 1, 1, u32::MAX),
            "nbthread" => {
                self.global.nbthread = self
                    .num(w, 1, 1, 4096)
                    .and_then(|n| usize::try_from(n).ok())
            }
            "user" => self.global.user = self.arg(w, 1).map(str::to_string),
            "group" => self.global.group = self.arg(w, 1).map(str::to_string),
            "pidfile" => self.global.pidfile = self.arg(w, 1).map(PathBuf::from),
            "daemon" => {
                self.global.daemon = true;
                self.warn(
                    w[0].col,
                    "'daemon' is ignored: lbproxy stays in the foreground (run it under systemd)",
                );
            }
            "log" => {
                if let Some(l) = self.log_target(w) {
                    self.global.logs.push(l);
                }
            }
            _ if kw.starts_with("tune.") || kw.starts_with("ssl-") => {
                self.warn(w[0].col, format!("'{kw}' is not supported; ignored"))
            }
            _ if GLOBAL_UNSUPPORTED.contains(&kw) => {
                self.warn(w[0].col, format!("'{kw}' is not supported; ignored"))
            }
            _ => self.err(
                w[0].col,
                format!("unknown keyword '{kw}' in 'global' section"),
            ),
        }
    }

    /// `log <target> [len N] [format F] <facility> [level [minlevel]]`, or `log global`.
    fn log_target(&mut self, w: &[Word]) -> Option<LogConfig> {
        let t = w.get(1)?;
        let target = match t.text.as_str() {
            "stderr" => LogTarget::Stderr,
            "stdout" => LogTarget::Stdout,
            s if s.starts_with('/') => LogTarget::Unix(PathBuf::from(s)),
            s => {
                let s = s.strip_prefix("udp@").unwrap_or(s);
                let addr = if s.contains(':') {
                    s.parse::<SocketAddr>().ok()
                } else {
                    s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 514))
                };
                match addr {
                    Some(a) => LogTarget::Udp(a),
                    None => {
                        self.err(t.col, format!("unsupported log target '{s}'"));
                        return None;
                    }
                }
            }
        };
        let mut i = 2;
        while let Some(x) = w.get(i) {
            if x.text == "len" || x.text == "format" || x.text == "sample" {
                i += 2;
            } else {
                break;
            }
        }
        let facility = match w.get(i) {
            None => 16,
            Some(f) => match facility_code(&f.text) {
                Some(c) => c,
                None => {
                    self.err(f.col, format!("unknown log facility '{}'", f.text));
                    16
                }
            },
        };
        Some(LogConfig { target, facility })
    }

    fn proxy_kw(&mut self, p: &mut ProxyBuild, w: &[Word]) {
        let kw = w[0].text.as_str();
        let what = p.kind.name();
        match kw {
            "bind" => {
                if !p.kind.has_front() {
                    self.err(
                        w[0].col,
                        format!("'bind' is not allowed in a {what} section"),
                    );
                    return;
                }
                let Some(addr) = w.get(1) else {
                    self.err(w[0].col, "'bind' needs an address");
                    return;
                };
                let first = p.binds.len();
                self.bind_addrs(p, addr);
                let mut tls: Option<BindTls> = None;
                let mut crt = Vec::new();
                let mut alpn = Vec::new();
                let mut i = 2;
                while let Some(x) = w.get(i) {
                    match x.text.as_str() {
                        "ssl" => tls = Some(BindTls::default()),
                        "crt" => match w.get(i + 1) {
                            Some(v) => {
                                crt.push(PathBuf::from(&v.text));
                                i += 1;
                            }
                            None => self.err(x.col, "'crt' needs a path"),
                        },
                        "alpn" => match w.get(i + 1) {
                            Some(v) => {
                                alpn = v.text.split(',').map(str::to_string).collect();
                                i += 1;
                            }
                            None => self.err(x.col, "'alpn' needs a protocol list"),
                        },
                        k => match BIND_UNSUPPORTED.iter().find(|(n, _)| *n == k) {
                            Some((_, takes)) => {
                                self.warn(
                                    x.col,
                                    format!("bind option '{k}' is not supported; ignored"),
                                );
                                if *takes {
                                    i += 1;
                                }
                            }
                            None => self.err(x.col, format!("unknown bind option '{k}'")),
                        },
                    }
                    i += 1;
                }
                if let Some(mut t) = tls {
                    self.warn(
                        w[1].col,
                        format!(
                            "bind {} 'ssl': TLS termination is not implemented yet; this address will not be served",
                            w[1].text
                        ),
                    );
                    t.crt = crt;
                    t.alpn = alpn;
                    for b in &mut p.binds[first..] {
                        b.tls = Some(t.clone());
                    }
                } else if !crt.is_empty() {
                    self.err(w[0].col, "'crt' without 'ssl'");
                }
            }
            "acl" => {
                if !p.kind.has_front() {
                    self.warn(
                        w[0].col,
                        format!("'acl' in a {what} section is not supported; ignored"),
                    );
                    return;
                }
                let Some(name) = w.get(1) else {
                    self.err(w[0].col, "'acl' needs a name");
                    return;
                };
                if let Some(acl) = self.acl_body(&w[2..], w[0].col) {
                    // Same name twice: HAProxy ORs them; we merge values when the fetch matches.
                    match p.acls.get_mut(&name.text) {
                        Some(a) if a.fetch == acl.fetch && a.ignore_case == acl.ignore_case => {
                            a.values.extend(acl.values)
                        }
                        Some(_) => self.warn(
                            name.col,
                            format!("acl '{}' redefined with another criterion; the first definition is used", name.text),
                        ),
                        None => {
                            p.acls.insert(name.text.clone(), acl);
                        }
                    }
                }
            }
            "use_backend" => {
                if !p.kind.has_front() {
                    self.err(
                        w[0].col,
                        format!("'use_backend' is not allowed in a {what} section"),
                    );
                    return;
                }
                let Some(be) = w.get(1) else {
                    self.err(w[0].col, "'use_backend' needs a backend name");
                    return;
                };
                if be.text.contains("%[") {
                    self.warn(
                        be.col,
                        "dynamic 'use_backend' is not supported; rule ignored",
                    );
                    return;
                }
                let (cond, refs) = if w.len() > 2 {
                    match self.condition(p, &w[2..]) {
                        Some(c) => (Some(c.0), c.1),
                        None => return,
                    }
                } else {
                    (None, Vec::new())
                };
                p.use_backends.push((
                    UseBackend {
                        backend: be.text.clone(),
                        cond,
                    },
                    self.pos(be.col),
                    refs,
                ));
            }
            "default_backend" => {
                if !p.kind.has_front() {
                    self.err(
                        w[0].col,
                        format!("'default_backend' is not allowed in a {what} section"),
                    );
                    return;
                }
                if let Some(be) = w.get(1) {
                    p.default_backend = Some((be.text.clone(), self.pos(be.col)));
                } else {
                    self.err(w[0].col, "'default_backend' needs a backend name");
                }
            }
            "server" => {
                if !p.kind.has_back() {
                    self.err(
                        w[0].col,
                        format!("'server' is not allowed in a {what} section"),
                    );
                    return;
                }
                let (Some(name), Some(addr)) = (w.get(1), w.get(2)) else {
                    self.err(w[0].col, "'server' needs a name and an address");
                    return;
                };
                let mut params = p.settings.default_server.clone();
                self.server_params(&mut params, &w[3..]);
                if p.servers.iter().any(|s| s.name == name.text) {
                    self.err(
                        name.col,
                        format!(
                            "duplicate server name '{}' in {what} '{}'",
                            name.text, p.name
                        ),
                    );
                }
                p.servers.push(PendingServer {
                    name: name.text.clone(),
                    address: addr.text.clone(),
                    pos: self.pos(addr.col),
                    params,
                });
            }
            _ => {
                let has_back = p.kind.has_back();
                self.settings_kw(&mut p.settings, w, what, has_back);
            }
        }
    }

    /// Keywords shared by defaults and proxies.
    fn settings_kw(&mut self, s: &mut ProxySettings, w: &[Word], what: &str, has_back: bool) {
        let kw = w[0].text.as_str();
        match kw {
            "mode" => match self.arg(w, 1) {
                Some("http") => s.mode = Mode::Http,
                Some("tcp") => s.mode = Mode::Tcp,
                Some(m) => {
                    let m = m.to_string();
                    self.err(
                        w[1].col,
                        format!("unknown mode '{m}' (expected http or tcp)"),
                    )
                }
                None => {}
            },
            "balance" => {
                if !has_back {
                    self.warn(
                        w[0].col,
                        format!("'balance' is ignored in a {what} section"),
                    );
                    return;
                }
                match self.arg(w, 1) {
                    Some("roundrobin") => s.balance = Balance::RoundRobin,
                    Some("leastconn") => s.balance = Balance::LeastConn,
                    Some("source") => s.balance = Balance::Source,
                    Some("first") => s.balance = Balance::First,
                    Some(
                        a @ ("static-rr" | "uri" | "url_param" | "hdr" | "random" | "rdp-cookie"
                        | "hash"),
                    ) => {
                        let a = a.to_string();
                        s.balance = Balance::RoundRobin;
                        self.warn(
                            w[1].col,
                            format!("balance '{a}' is not supported; using roundrobin"),
                        );
                    }
                    Some(a) => {
                        let a = a.to_string();
                        self.err(w[1].col, format!("unknown balance algorithm '{a}'"))
                    }
                    None => {}
                }
            }
            "timeout" => {
                let (Some(which), Some(val)) = (w.get(1), w.get(2)) else {
                    self.err(w[0].col, "'timeout' needs a name and a value");
                    return;
                };
                let slot = match which.text.as_str() {
                    "connect" => &mut s.timeouts.connect,
                    "client" => &mut s.timeouts.client,
                    "server" => &mut s.timeouts.server,
                    "http-request" => &mut s.timeouts.http_request,
                    "http-keep-alive" => &mut s.timeouts.http_keep_alive,
                    "queue" => &mut s.timeouts.queue,
                    "check" => &mut s.timeouts.check,
                    t @ ("tunnel" | "client-fin" | "server-fin" | "tarpit") => {
                        let t = t.to_string();
                        self.warn(
                            which.col,
                            format!("'timeout {t}' is not supported; ignored"),
                        );
                        return;
                    }
                    t => {
                        let t = t.to_string();
                        self.err(which.col, format!("unknown timeout '{t}'"));
                        return;
                    }
                };
                match parse_time(&val.text) {
                    Some(d) => *slot = Some(d),
                    None => self.err(val.col, format!("invalid time value '{}'", val.text)),
                }
            }
            "retries" => {
                if let Some(n) = self.num(w, 1, 0, 1000) {
                    s.retries = n;
                }
            }
            "maxconn" => s.maxconn = self.num(w, 1, 1, u32::MAX),
            "option" | "no" => self.option_kw(s, w),
            "http-check" => match (w.get(1).map(|x| x.text.as_str()), w.get(2)) {
                (Some("expect"), Some(x)) if x.text == "status" => {
                    match w.get(3).map(|v| v.text.parse::<u16>()) {
                        Some(Ok(n)) if (100..600).contains(&n) => s.expect_status = Some(n),
                        _ => self.err(
                            x.col,
                            "'http-check expect status' needs a status code 100-599",
                        ),
                    }
                }
                (Some("send"), _) => {
                    // `http-check send [meth M] [uri U] [ver V] [hdr NAME VALUE]...`
                    let mut chk = s.httpchk.clone().unwrap_or(HttpCheckConfig {
                        method: "OPTIONS".into(),
                        uri: "/".into(),
                        host: None,
                    });
                    let mut i = 2;
                    while let Some(k) = w.get(i) {
                        let v = w.get(i + 1);
                        match (k.text.as_str(), v) {
                            ("meth", Some(v)) => chk.method = v.text.clone(),
                            ("uri", Some(v)) => chk.uri = v.text.clone(),
                            ("ver", Some(_)) => {}
                            ("hdr", Some(n)) => {
                                match w.get(i + 2) {
                                    Some(val) if n.text.eq_ignore_ascii_case("host") => {
                                        chk.host = Some(val.text.clone())
                                    }
                                    Some(_) => self.warn(
                                        n.col,
                                        format!("check header '{}' is not sent; ignored", n.text),
                                    ),
                                    None => self.err(n.col, "'hdr' needs a name and a value"),
                                }
                                i += 1;
                            }
                            ("body" | "body-lf" | "uri-lf" | "comment", Some(_)) => self.warn(
                                k.col,
                                format!("'http-check send {}' is not supported; ignored", k.text),
                            ),
                            (other, _) => {
                                let other = other.to_string();
                                self.err(
                                    k.col,
                                    format!("unexpected '{other}' in 'http-check send'"),
                                );
                                break;
                            }
                        }
                        i += 2;
                    }
                    s.httpchk = Some(chk);
                }
                (Some(sub), _) => {
                    let sub = sub.to_string();
                    self.warn(
                        w[1].col,
                        format!("'http-check {sub}' form is not supported; ignored"),
                    )
                }
                (None, _) => self.err(w[0].col, "'http-check' needs arguments"),
            },
            "log" => match self.arg(w, 1) {
                Some("global") => s.logs.push(ProxyLog::Global),
                Some(_) => {
                    if let Some(l) = self.log_target(w) {
                        s.logs.push(ProxyLog::Own(l));
                    }
                }
                None => {}
            },
            "stats" => match w.get(1).map(|x| x.text.as_str()) {
                Some("enable") => {
                    if s.stats_uri.is_none() {
                        s.stats_uri = Some("/haproxy?stats".into());
                    }
                }
                Some("uri") => match w.get(2) {
                    Some(u) if u.text.starts_with('/') => s.stats_uri = Some(u.text.clone()),
                    _ => self.err(w[1].col, "'stats uri' needs a path starting with '/'"),
                },
                Some(sub) => {
                    let sub = sub.to_string();
                    self.warn(w[1].col, format!("'stats {sub}' is not supported; ignored"))
                }
                None => self.err(w[0].col, "'stats' needs a sub-keyword"),
            },
            "default-server" => {
                let mut d = s.default_server.clone();
                self.server_params(&mut d, &w[1..]);
                s.default_server = d;
            }
            "bind" | "acl" | "use_backend" | "default_backend" | "server" => self.err(
                w[0].col,
                format!("'{kw}' is not allowed in a {what} section"),
            ),
            _ if PROXY_UNSUPPORTED.contains(&kw) => {
                self.warn(w[0].col, format!("'{kw}' is not supported; ignored"))
            }
            _ => self.err(
                w[0].col,
                format!("unknown keyword '{kw}' in '{what}' section"),
            ),
        }
    }

    fn option_kw(&mut self, s: &mut ProxySettings, w: &[Word]) {
        let (neg, rest) = if w[0].text == "no" {
            match w.get(1).map(|x| x.text.as_str()) {
                Some("option") => {}
                // `no log`: drops the log lines so far (those of `defaults` included).
                Some("log") if w.len() == 2 => {
                    s.logs.clear();
                    return;
                }
                _ => {
                    self.err(w[0].col, "'no' must be followed by 'option' or be 'no log'");
                    return;
                }
            }
            (true, &w[2..])
        } else {
            (false, &w[1..])
        };
        let Some(opt) = rest.first() else {
            self.err(w[0].col, "'option' needs a name");
            return;
        };
        let on = !neg;
        match opt.text.as_str() {
            "forwardfor" => {
                s.forwardfor = on;
                if rest.len() > 1 {
                    self.warn(
                        rest[1].col,
                        "'option forwardfor' arguments are not supported; ignored",
                    );
                }
            }
            "http-keep-alive" => {
                s.conn_mode = if on {
                    HttpConnMode::KeepAlive
                } else {
                    s.conn_mode
                }
            }
            "http-server-close" => {
                s.conn_mode = if on {
                    HttpConnMode::ServerClose
                } else {
                    HttpConnMode::KeepAlive
                }
            }
            "httpclose" | "forceclose" | "http-tunnel" => {
                s.conn_mode = if on {
                    HttpConnMode::Close
                } else {
                    HttpConnMode::KeepAlive
                }
            }
            "redispatch" => {
                s.redispatch = on;
                if rest.len() > 1 {
                    self.warn(
                        rest[1].col,
                        "'option redispatch' interval is not supported; ignored",
                    );
                }
            }
            "httplog" => {
                s.httplog = on;
                if on {
                    s.tcplog = false;
                }
            }
            "tcplog" => {
                s.tcplog = on;
                if on {
                    s.httplog = false;
                }
            }
            "dontlognull" => s.dontlognull = on,
            "http-ignore-probes" => s.ignore_probes = on,
            "httpchk" => {
                if !on {
                    s.httpchk = None;
                    return;
                }
                // `option httpchk [METH] [URI] [VERSION[\r\nHeaders]]`, or just `<uri>`.
                let args: Vec<&str> = rest[1..].iter().map(|x| x.text.as_str()).collect();
                let (method, uri, ver) = match args.as_slice() {
                    [] => ("OPTIONS", "/", None),
                    [uri] => ("OPTIONS", *uri, None),
                    [m, u] => (*m, *u, None),
                    [m, u, v, ..] => (*m, *u, Some(*v)),
                };
                let host = ver.and_then(|v| {
                    v.split("\r\n")
                        .filter_map(|h| h.split_once(':'))
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case("host"))
                        .map(|(_, v)| v.trim().to_string())
                });
                s.httpchk = Some(HttpCheckConfig {
                    method: method.to_string(),
                    uri: uri.to_string(),
                    host,
                });
            }
            o if OPTION_UNSUPPORTED.contains(&o) => {
                let o = o.to_string();
                self.warn(opt.col, format!("'option {o}' is not supported; ignored"))
            }
            o => {
                let o = o.to_string();
                self.err(opt.col, format!("unknown option '{o}'"))
            }
        }
    }

    fn server_params(&mut self, p: &mut ServerParams, w: &[Word]) {
        let mut i = 0;
        while let Some(x) = w.get(i) {
            let k = x.text.as_str();
            let val = w.get(i + 1);
            let mut takes = true;
            match k {
                "check" => {
                    p.check = true;
                    takes = false;
                }
                "no-check" => {
                    p.check = false;
                    takes = false;
                }
                "backup" => {
                    p.backup = true;
                    takes = false;
                }
                "no-backup" => {
                    p.backup = false;
                    takes = false;
                }
                "disabled" => {
                    p.disabled = true;
                    takes = false;
                }
                "inter" | "fastinter" | "downinter" => {
                    match val.and_then(|v| parse_time(&v.text)) {
                        Some(d) if !d.is_zero() => match k {
                            "inter" => p.inter = d,
                            "fastinter" => p.fastinter = Some(d),
                            _ => p.downinter = Some(d),
                        },
                        _ => self.err(x.col, format!("'{k}' needs a non-zero time value")),
                    }
                }
                "rise" | "fall" | "weight" | "maxconn" | "maxqueue" => {
                    let (lo, hi) = match k {
                        "rise" | "fall" => (1, 1000),
                        "weight" => (0, 256),
                        _ => (0, 1_000_000),
                    };
                    match val.map(|v| v.text.parse::<u32>()) {
                        Some(Ok(n)) if n >= lo && n <= hi => match k {
                            "rise" => p.rise = n,
                            "fall" => p.fall = n,
                            "weight" => p.weight = n,
                            "maxconn" => p.maxconn = n,
                            _ => p.maxqueue = n,
                        },
                        _ => self.err(x.col, format!("'{k}' needs an integer in {lo}..={hi}")),
                    }
                }
                _ => match SERVER_UNSUPPORTED.iter().find(|(n, _)| *n == k) {
                    Some((_, t)) => {
                        takes = *t;
                        self.warn(
                            x.col,
                            format!("server option '{k}' is not supported; ignored"),
                        );
                    }
                    None => {
                        takes = false;
                        self.err(x.col, format!("unknown server option '{k}'"));
                    }
                },
            }
            if takes && val.is_none() {
                // The error was reported above (or the option is unsupported): stop here.
                if SERVER_UNSUPPORTED.iter().any(|(n, _)| *n == k) {
                    self.err(x.col, format!("'{k}' needs a value"));
                }
                return;
            }
            i += if takes { 2 } else { 1 };
        }
    }

    fn acl_body(&mut self, w: &[Word], col: usize) -> Option<Acl> {
        let Some(fetch_w) = w.first() else {
            self.err(col, "'acl' needs a criterion");
            return None;
        };
        let f = fetch_w.text.as_str();
        let hdr_arg = |prefix: &str| -> Option<String> {
            f.strip_prefix(prefix)?
                .strip_prefix('(')?
                .strip_suffix(')')
                .map(|h| {
                    h.split(',')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase()
                })
        };
        let fetch = if f == "path" {
            AclFetch::Path
        } else if f == "path_beg" {
            AclFetch::PathBeg
        } else if let Some(h) = hdr_arg("hdr_beg") {
            AclFetch::HdrBeg(h)
        } else if let Some(h) = hdr_arg("hdr") {
            AclFetch::Hdr(h)
        } else if f == "hdr_beg" || f == "hdr" {
            self.err(fetch_w.col, format!("'{f}' needs a header name: {f}(host)"));
            return None;
        } else if f
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-(),".contains(c))
        {
            self.warn(
                fetch_w.col,
                format!("acl criterion '{f}' is not supported; this ACL never matches"),
            );
            AclFetch::Unsupported(f.to_string())
        } else {
            self.err(fetch_w.col, format!("invalid acl criterion '{f}'"));
            return None;
        };
        let mut ignore_case = false;
        let mut values = Vec::new();
        let mut i = 1;
        while let Some(x) = w.get(i) {
            match x.text.as_str() {
                "-i" => ignore_case = true,
                "-m" => {
                    i += 1;
                    self.warn(x.col, "acl '-m' match method is not supported; ignored");
                }
                "-f" => {
                    i += 1;
                    self.warn(x.col, "acl '-f' pattern file is not supported; ignored");
                }
                "--" => {
                    values.extend(w[i + 1..].iter().map(|v| v.text.clone()));
                    break;
                }
                v => values.push(v.to_string()),
            }
            i += 1;
        }
        if values.is_empty() && !matches!(fetch, AclFetch::Unsupported(_)) {
            self.err(fetch_w.col, "acl has no pattern");
            return None;
        }
        Some(Acl {
            fetch,
            ignore_case,
            values,
        })
    }

    /// Parses `if|unless TERMS`; anonymous ACLs `{ ... }` are added to the frontend.
    #[allow(clippy::type_complexity)]
    fn condition(
        &mut self,
        p: &mut ProxyBuild,
        w: &[Word],
    ) -> Option<(Condition, Vec<(String, Pos)>)> {
        let unless = match w[0].text.as_str() {
            "if" => false,
            "unless" => true,
            other => {
                self.err(
                    w[0].col,
                    format!("expected 'if' or 'unless', found '{other}'"),
                );
                return None;
            }
        };
        let mut any_of = vec![Vec::new()];
        let mut refs = Vec::new();
        let mut i = 1;
        while let Some(x) = w.get(i) {
            let t = x.text.as_str();
            if t == "or" || t == "||" {
                any_of.push(Vec::new());
            } else {
                let (negate, name) = match t.strip_prefix('!') {
                    Some(n) => (true, n),
                    None => (false, t),
                };
                let acl = if name == "{"
                    || (name.is_empty() && w.get(i + 1).is_some_and(|n| n.text == "{"))
                {
                    if name.is_empty() {
                        i += 1;
                    }
                    let start = i + 1;
                    let Some(end) = w[start..].iter().position(|x| x.text == "}") else {
                        self.err(x.col, "unterminated anonymous ACL '{'");
                        return None;
                    };
                    let body = self.acl_body(&w[start..start + end], x.col)?;
                    p.anon_acls += 1;
                    let n = format!(" anon{}", p.anon_acls);
                    p.acls.insert(n.clone(), body);
                    i = start + end;
                    n
                } else {
                    refs.push((name.to_string(), self.pos(x.col + usize::from(negate))));
                    name.to_string()
                };
                if let Some(g) = any_of.last_mut() {
                    g.push(Term { negate, acl });
                }
            }
            i += 1;
        }
        if any_of.iter().any(Vec::is_empty) {
            self.err(w[0].col, "empty condition");
            return None;
        }
        Some((Condition { unless, any_of }, refs))
    }

    /// Adds one bind per address of `addr[:port][,addr:port...]`.
    fn bind_addrs(&mut self, p: &mut ProxyBuild, w: &Word) {
        for part in w.text.split(',') {
            match parse_bind_addr(part) {
                Ok(addr) => p.binds.push(Bind { addr, tls: None }),
                Err(m) => self.err(w.col, m),
            }
        }
    }

    fn arg<'w>(&mut self, w: &'w [Word], i: usize) -> Option<&'w str> {
        match w.get(i) {
            Some(x) => Some(x.text.as_str()),
            None => {
                self.err(w[0].col, format!("'{}' needs an argument", w[0].text));
                None
            }
        }
    }

    fn num(&mut self, w: &[Word], i: usize, lo: u32, hi: u32) -> Option<u32> {
        let a = self.arg(w, i)?;
        match a.parse::<u32>() {
            Ok(n) if n >= lo && n <= hi => Some(n),
            _ => {
                let a = a.to_string();
                self.err(
                    w[i].col,
                    format!(
                        "'{}' needs an integer in {lo}..={hi}, found '{a}'",
                        w[0].text
                    ),
                );
                None
            }
        }
    }

    pub(super) fn finish(mut self) -> Result<Loaded, ConfigError> {
        self.close_section();
        let proxies = std::mem::take(&mut self.proxies);
        let mut cfg = Config {
            global: std::mem::take(&mut self.global),
            ..Config::default()
        };
        let push = |d: &mut Vec<Diagnostic>, sev, pos: &Pos, message: String| {
            d.push(Diagnostic {
                severity: sev,
                file: pos.file.clone(),
                line: pos.line,
                col: pos.col,
                message,
            })
        };
        let mut diags = std::mem::take(&mut self.diags);
        // Names: frontends and backends have separate namespaces (a listen is both).
        let mut be_names: HashMap<&str, Mode> = HashMap::new();
        let mut fe_names: HashMap<&str, ()> = HashMap::new();
        for p in &proxies {
            if p.kind.has_back() && be_names.insert(&p.name, p.settings.mode).is_some() {
                push(
                    &mut diags,
                    Severity::Error,
                    &p.pos,
                    format!("duplicate backend name '{}'", p.name),
                );
            }
            if p.kind.has_front() && fe_names.insert(&p.name, ()).is_some() {
                push(
                    &mut diags,
                    Severity::Error,
                    &p.pos,
                    format!("duplicate frontend name '{}'", p.name),
                );
            }
        }
        let mut seen_binds: HashMap<SocketAddr, String> = HashMap::new();
        for p in &proxies {
            if p.kind.has_front() {
                let mut targets: Vec<(&str, &Pos)> = p
                    .use_backends
                    .iter()
                    .map(|(u, pos, _)| (u.backend.as_str(), pos))
                    .collect();
                if let Some((d, pos)) = &p.default_backend {
                    targets.push((d, pos));
                }
                for (t, pos) in targets {
                    match be_names.get(t) {
                        None => push(
                            &mut diags,
                            Severity::Error,
                            pos,
                            format!("{} '{}': unknown backend '{t}'", p.kind.name(), p.name),
                        ),
                        Some(m) if *m != p.settings.mode => push(
                            &mut diags,
                            Severity::Error,
                            pos,
                            format!(
                                "{} '{}' cannot use backend '{t}': modes differ (http vs tcp)",
                                p.kind.name(),
                                p.name
                            ),
                        ),
                        Some(_) => {}
                    }
                }
                for (_, _, refs) in &p.use_backends {
                    for (acl, pos) in refs {
                        if !p.acls.contains_key(acl) {
                            push(
                                &mut diags,
                                Severity::Error,
                                pos,
                                format!("unknown acl '{acl}'"),
                            );
                        }
                    }
                }
                if p.binds.is_empty() {
                    push(
                        &mut diags,
                        Severity::Warning,
                        &p.pos,
                        format!(
                            "{} '{}' has no 'bind' line; it receives no traffic",
                            p.kind.name(),
                            p.name
                        ),
                    );
                }
                for b in &p.binds {
                    if let Some(other) = seen_binds.insert(b.addr, p.name.clone()) {
                        if b.addr.port() != 0 {
                            push(
                                &mut diags,
                                Severity::Error,
                                &p.pos,
                                format!(
                                    "{} '{}' binds {} already bound by '{other}'",
                                    p.kind.name(),
                                    p.name,
                                    b.addr
                                ),
                            );
                        }
                    }
                }
            }
        }
        for p in proxies {
            if p.kind.has_back() {
                let mut servers = Vec::new();
                for s in p.servers {
                    match resolve(&s.address, self.offline) {
                        Ok(addr) => servers.push(Server {
                            name: s.name,
                            address: s.address,
                            addr,
                            params: s.params,
                        }),
                        Err(m) => push(
                            &mut diags,
                            Severity::Error,
                            &s.pos,
                            format!("server '{}/{}': {m}", p.name, s.name),
                        ),
                    }
                }
                cfg.backends.push(Backend {
                    name: p.name.clone(),
                    settings: p.settings.clone(),
                    servers,
                });
            }
            if p.kind.has_front() {
                let default_backend = match (&p.default_backend, p.kind) {
                    (Some((d, _)), _) => Some(d.clone()),
                    (None, Kind::Listen) => Some(p.name.clone()),
                    (None, _) => None,
                };
                cfg.frontends.push(Frontend {
                    name: p.name,
                    binds: p.binds,
                    settings: p.settings,
                    acls: p.acls,
                    use_backends: p.use_backends.into_iter().map(|(u, _, _)| u).collect(),
                    default_backend,
                });
            }
        }
        if diags.iter().any(|d| d.severity == Severity::Error) {
            return Err(ConfigError::Invalid { diagnostics: diags });
        }
        Ok(Loaded {
            config: cfg,
            warnings: diags,
        })
    }
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
}

fn facility_code(f: &str) -> Option<u8> {
    const NAMES: &[&str] = &[
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
        "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
        "local5", "local6", "local7",
    ];
    NAMES
        .iter()
        .position(|n| *n == f)
        .and_then(|p| u8::try_from(p).ok())
}

/// `[addr]:port`, `*:port`, `:port`, `ipv4@a:p`, `ipv6@a:p`, `[::1]:port`, `:::port`.
pub(super) fn parse_bind_addr(s: &str) -> Result<SocketAddr, String> {
    let s = s
        .strip_prefix("ipv4@")
        .or_else(|| s.strip_prefix("ipv6@"))
        .or_else(|| s.strip_prefix("tcp@"))
        .or_else(|| s.strip_prefix("tcp4@"))
        .or_else(|| s.strip_prefix("tcp6@"))
        .unwrap_or(s);
    if s.starts_with('/') || s.contains('@') {
        return Err(format!(
            "unsupported bind address '{s}' (only TCP addresses)"
        ));
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(format!("bind address '{s}' has no port"));
    };
    if port.contains('-') {
        return Err(format!("port ranges are not supported: '{s}'"));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| format!("invalid port '{port}' in '{s}'"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if host.is_empty() || host == "*" {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        host.parse::<IpAddr>()
            .map_err(|_| format!("invalid bind address '{host}'"))?
    };
    Ok(SocketAddr::new(ip, port))
}

/// Resolves `host:port` now (as HAProxy does at start-up), preferring IPv4.
fn resolve(address: &str, offline: bool) -> Result<SocketAddr, String> {
    if let Ok(a) = address.parse::<SocketAddr>() {
        return Ok(a);
    }
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err(format!(
            "address '{address}' has no port (HAProxy would use the client's destination port; not supported)"
        ));
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("invalid port in '{address}'"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("address '{address}' has no host"));
    }
    if offline {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("could not resolve address '{host}': {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| format!("could not resolve address '{host}'"))
}
