//! The checks that need the whole configuration (names, references, modes, ACL names,
//! fetch scopes, TLS settings after `global` defaults), then the assembly of [`Config`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use super::acl::{predefined, Acl, Condition};
use super::parse::{Kind, Parser, Pos, ProxyBuild};
use super::rules::HttpRule;
use super::sample::{Fetch, Scope};
use super::tls::{BindTls, ClientVerify};
use super::*;

type Diags = Vec<Diagnostic>;

fn push(d: &mut Diags, severity: Severity, pos: &Pos, message: String) {
    d.push(Diagnostic {
        severity,
        file: pos.file.clone(),
        line: pos.line,
        col: pos.col,
        message,
    })
}

impl Parser {
    pub(super) fn finish(mut self) -> Result<Loaded, ConfigError> {
        let mut proxies = self.finish_sections();
        let mut d = std::mem::take(&mut self.diags);
        let global = std::mem::take(&mut self.global);
        let be_modes = check_names(&proxies, &mut d);
        let mut seen_binds: HashMap<SocketAddr, String> = HashMap::new();
        for p in &mut proxies {
            if global.nosplice {
                p.settings.splice = Default::default();
            }
            resolve_conditions(p, &mut d);
            if p.kind.has_front() {
                check_front(p, &be_modes, &mut seen_binds, &global, &mut d);
            }
            if p.kind.has_back() {
                check_back(p, &global, &mut d);
            }
        }
        let mut cfg = Config {
            global,
            ..Config::default()
        };
        for p in proxies {
            assemble(p, &mut cfg, self.offline, &mut d);
        }
        if d.iter().any(|d| d.severity == Severity::Error) {
            return Err(ConfigError::Invalid { diagnostics: d });
        }
        Ok(Loaded {
            config: cfg,
            warnings: d,
        })
    }
}

/// Duplicate names; frontends and backends have separate namespaces (a listen is both).
/// Returns each backend's mode.
fn check_names(proxies: &[ProxyBuild], d: &mut Diags) -> HashMap<String, Mode> {
    let mut be: HashMap<String, Mode> = HashMap::new();
    let mut fe: HashMap<&str, ()> = HashMap::new();
    for p in proxies {
        let dup_be = p.kind.has_back() && be.insert(p.name.clone(), p.settings.mode).is_some();
        let dup_fe = p.kind.has_front() && fe.insert(&p.name, ()).is_some();
        for (dup, side) in [(dup_be, "backend"), (dup_fe, "frontend")] {
            if dup {
                push(
                    d,
                    Severity::Error,
                    &p.pos,
                    format!("duplicate {side} name '{}'", p.name),
                );
            }
        }
    }
    be
}

/// Every condition of a proxy, with the widest fetch scope allowed where it is used.
fn conditions(p: &mut ProxyBuild) -> Vec<(&mut Condition, Scope, &'static str)> {
    let http = p.settings.mode == Mode::Http;
    let route_scope = if http {
        Scope::Request
    } else {
        Scope::Connection
    };
    let mut out: Vec<(&mut Condition, Scope, &'static str)> = Vec::new();
    for (u, _) in &mut p.use_backends {
        if let Some(c) = &mut u.cond {
            out.push((c, route_scope, "use_backend"));
        }
    }
    for (list, scope, what) in [
        (&mut p.http_request, Scope::Request, "http-request"),
        (&mut p.redirects, Scope::Request, "redirect"),
        (&mut p.http_response, Scope::Response, "http-response"),
    ] {
        for (HttpRule { cond, .. }, _) in list.iter_mut() {
            if let Some(c) = cond {
                out.push((c, scope, what));
            }
        }
    }
    for (r, _) in &mut p.tcp_rules {
        if let Some(c) = &mut r.cond {
            let what = match r.stage {
                TcpStage::Connection => "tcp-request connection",
                TcpStage::Content => "tcp-request content",
            };
            out.push((c, Scope::Connection, what));
        }
    }
    out
}

/// Fills each term with its ACL definitions, and checks that the fetches used are
/// available where the condition is evaluated.
fn resolve_conditions(p: &mut ProxyBuild, d: &mut Diags) {
    let acls = std::mem::take(&mut p.acls);
    let refs = std::mem::take(&mut p.acl_refs);
    let http = p.settings.mode == Mode::Http;
    let has_http_rules =
        !(p.http_request.is_empty() && p.http_response.is_empty() && p.redirects.is_empty());
    let pos = p.pos.clone();
    let kind = p.kind.name();
    let name = p.name.clone();
    if !http && has_http_rules {
        push(d, Severity::Error, &pos, format!("{kind} '{name}' is in tcp mode: http-request, http-response and redirect rules need mode http"));
    }
    for (cond, scope, what) in conditions(p) {
        for t in cond.terms_mut() {
            let defs: Vec<Acl> = match acls.get(&t.name) {
                Some(v) => v.clone(),
                None => match predefined(&t.name) {
                    Some(a) => vec![a],
                    None => {
                        let at = refs
                            .iter()
                            .find(|(n, _)| *n == t.name)
                            .map(|(_, p)| p)
                            .unwrap_or(&pos);
                        push(d, Severity::Error, at, format!("unknown acl '{}'", t.name));
                        continue;
                    }
                },
            };
            for a in &defs {
                let s = a.expr.fetch.scope();
                let tls_too_early = what == "tcp-request connection"
                    && matches!(
                        a.expr.fetch,
                        Fetch::SslFc
                            | Fetch::SslFcSni
                            | Fetch::SslFcProtocol
                            | Fetch::SslFcAlpn
                            | Fetch::SslFcCipher
                    );
                if s > scope || tls_too_early {
                    let at = refs
                        .iter()
                        .find(|(n, _)| *n == t.name)
                        .map(|(_, p)| p)
                        .unwrap_or(&pos);
                    let why = if tls_too_early {
                        "TLS fetches are not known yet in 'tcp-request connection' (use 'tcp-request content')"
                    } else if s == Scope::Response {
                        "response fetches are only available in 'http-response' rules"
                    } else {
                        "HTTP fetches need mode http"
                    };
                    push(
                        d,
                        Severity::Error,
                        at,
                        format!("acl '{}' in '{what}': {why}", t.name.trim()),
                    );
                }
            }
            t.acls = Arc::from(defs);
        }
    }
    p.acls = acls;
    p.acl_refs = refs;
}

fn check_front(
    p: &mut ProxyBuild,
    be_modes: &HashMap<String, Mode>,
    seen_binds: &mut HashMap<SocketAddr, String>,
    global: &Global,
    d: &mut Diags,
) {
    let kind = p.kind.name();
    let mut targets: Vec<(&str, &Pos)> = p
        .use_backends
        .iter()
        .map(|(u, pos)| (u.backend.as_str(), pos))
        .collect();
    if let Some((t, pos)) = &p.default_backend {
        targets.push((t, pos));
    }
    for (t, pos) in targets {
        match be_modes.get(t) {
            None => push(
                d,
                Severity::Error,
                pos,
                format!("{kind} '{}': unknown backend '{t}'", p.name),
            ),
            Some(m) if *m != p.settings.mode => push(
                d,
                Severity::Error,
                pos,
                format!(
                    "{kind} '{}' cannot use backend '{t}': modes differ (http vs tcp)",
                    p.name
                ),
            ),
            Some(_) => {}
        }
    }
    if p.binds.is_empty() {
        push(
            d,
            Severity::Warning,
            &p.pos,
            format!(
                "{kind} '{}' has no 'bind' line; it receives no traffic",
                p.name
            ),
        );
    }
    for (b, pos) in &mut p.binds {
        if let Some(other) = seen_binds.insert(b.addr, p.name.clone()) {
            if b.addr.port() != 0 {
                push(
                    d,
                    Severity::Error,
                    pos,
                    format!(
                        "{kind} '{}' binds {} already bound by '{other}'",
                        p.name, b.addr
                    ),
                );
            }
        }
        if let Some(tls) = &mut b.tls {
            check_bind_tls(Arc::make_mut(tls), b.addr, pos, global, d);
        }
    }
}

/// A `bind ... ssl` line after the `ssl-default-bind-*` of `global`.
fn check_bind_tls(t: &mut BindTls, addr: SocketAddr, pos: &Pos, global: &Global, d: &mut Diags) {
    t.params.inherit(&global.tls.bind_defaults);
    if let Err(m) = t.params.versions() {
        push(d, Severity::Error, pos, format!("bind {addr}: {m}"));
    }
    if t.crt.is_empty() {
        push(
            d,
            Severity::Error,
            pos,
            format!("bind {addr} has 'ssl' but no certificate ('crt')"),
        );
    }
    if t.verify != ClientVerify::None && t.ca_file.is_none() {
        push(
            d,
            Severity::Error,
            pos,
            format!("bind {addr}: 'verify' needs a 'ca-file' to check client certificates against"),
        );
    }
}

fn check_back(p: &mut ProxyBuild, global: &Global, d: &mut Diags) {
    for s in &mut p.servers {
        let t = &mut s.params.tls;
        if !s.params.ssl {
            continue;
        }
        t.params.inherit(&global.tls.server_defaults);
        let verify = *t.verify.get_or_insert(global.tls.server_verify);
        if let Err(m) = t.params.versions() {
            push(
                d,
                Severity::Error,
                &s.pos,
                format!("server '{}/{}': {m}", p.name, s.name),
            );
        }
        if verify && t.ca_file.is_none() {
            push(d, Severity::Error, &s.pos, format!(
                "server '{}/{}': verify is enabled by default but no CA file specified. If you're running on a LAN where you're certain to trust the server's certificate, please set an explicit 'verify none' statement on the 'server' line, or use 'ssl-server-verify none' in the global section to disable server-side verifications by default.",
                p.name, s.name
            ));
        }
    }
}

fn assemble(p: ProxyBuild, cfg: &mut Config, offline: bool, d: &mut Diags) {
    let strip = |v: Vec<(HttpRule, Pos)>| v.into_iter().map(|(r, _)| r).collect::<Vec<_>>();
    let mut http_request = strip(p.http_request);
    http_request.extend(strip(p.redirects));
    let http_response = strip(p.http_response);
    if p.kind.has_back() {
        let mut servers = Vec::new();
        for s in p.servers {
            match resolve(&s.address, offline) {
                Ok(addr) => servers.push(Server {
                    name: s.name,
                    address: s.address,
                    addr,
                    params: s.params,
                }),
                Err(m) => push(
                    d,
                    Severity::Error,
                    &s.pos,
                    format!("server '{}/{}': {m}", p.name, s.name),
                ),
            }
        }
        // A listen runs its rules once, as a frontend.
        let (req, res) = if p.kind == Kind::Listen {
            (Vec::new(), Vec::new())
        } else {
            (http_request.clone(), http_response.clone())
        };
        cfg.backends.push(Backend {
            name: p.name.clone(),
            settings: p.settings.clone(),
            servers,
            http_request: req,
            http_response: res,
        });
    }
    if p.kind.has_front() {
        let default_backend = match (&p.default_backend, p.kind) {
            (Some((name, _)), _) => Some(name.clone()),
            (None, Kind::Listen) => Some(p.name.clone()),
            (None, _) => None,
        };
        cfg.frontends.push(Frontend {
            name: p.name,
            binds: p.binds.into_iter().map(|(b, _)| b).collect(),
            settings: p.settings,
            acls: p.acls,
            use_backends: p.use_backends.into_iter().map(|(u, _)| u).collect(),
            default_backend,
            tcp_rules: p.tcp_rules.into_iter().map(|(r, _)| r).collect(),
            http_request,
            http_response,
        });
    }
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
