//! Settings that `defaults` sections pass on: mode, balance, timeouts, options, checks,
//! logs, `default-server`, `errorfile`.

use super::keywords::{listed, OPTIONS, OPTION_UNSUPPORTED};
use super::lex::Word;
use super::parse::Parser;
use super::*;

impl Parser {
    /// Keywords shared by defaults and proxies.
    pub(super) fn settings_kw(
        &mut self,
        s: &mut ProxySettings,
        w: &[Word],
        what: &str,
        has_back: bool,
    ) {
        let kw = w[0].text.as_str();
        if self.proxy_unlisted(w, what) {
            return;
        }
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
            "balance" => self.balance_kw(s, w, what, has_back),
            "timeout" => self.timeout_kw(s, w),
            "retries" => {
                if let Some(n) = self.num(w, 1, 0, 1000) {
                    s.retries = n;
                }
            }
            "maxconn" => s.maxconn = self.num(w, 1, 1, u32::MAX),
            "backlog" => s.backlog = self.num(w, 1, 1, u32::MAX),
            "option" | "no" => self.option_kw(s, w),
            "http-check" => self.http_check(s, w),
            "log" => match self.arg(w, 1) {
                Some("global") => s.logs.push(ProxyLog::Global),
                Some(_) => {
                    if let Some(l) = self.log_target(w) {
                        s.logs.push(ProxyLog::Own(l));
                    }
                }
                None => {}
            },
            "stats" => self.stats_kw(s, w),
            "errorfile" => self.errorfile(s, w),
            "default-server" => {
                let mut d = s.default_server.clone();
                self.server_params(&mut d, &w[1..]);
                s.default_server = d;
            }
            "bind"
            | "acl"
            | "use_backend"
            | "default_backend"
            | "server"
            | "http-request"
            | "http-response"
            | "redirect"
            | "tcp-request"
            | "http-after-response"
            | "tcp-response" => self.err(
                w[0].col,
                format!("'{kw}' is not allowed in a {what} section"),
            ),
            _ => self.unhandled(&w[0]),
        }
    }

    /// `balance ALGORITHM` (backends and listens).
    fn balance_kw(&mut self, s: &mut ProxySettings, w: &[Word], what: &str, has_back: bool) {
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
                a @ ("static-rr" | "uri" | "url_param" | "hdr" | "random" | "rdp-cookie" | "hash"),
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

    /// `timeout NAME VALUE`.
    fn timeout_kw(&mut self, s: &mut ProxySettings, w: &[Word]) {
        let (Some(which), Some(val)) = (w.get(1), w.get(2)) else {
            self.err(w[0].col, "'timeout' needs a name and a value");
            return;
        };
        let t = &mut s.timeouts;
        let slot = match which.text.as_str() {
            "connect" => &mut t.connect,
            "client" => &mut t.client,
            "server" => &mut t.server,
            "http-request" => &mut t.http_request,
            "http-keep-alive" => &mut t.http_keep_alive,
            "queue" => &mut t.queue,
            "check" => &mut t.check,
            n @ ("tunnel" | "client-fin" | "server-fin" | "tarpit") => {
                let n = n.to_string();
                self.warn(
                    which.col,
                    format!("'timeout {n}' is not supported; ignored"),
                );
                return;
            }
            n => {
                let n = n.to_string();
                self.err(which.col, format!("unknown timeout '{n}'"));
                return;
            }
        };
        match parse_time(&val.text) {
            Some(d) => *slot = Some(d),
            None => self.err(val.col, format!("invalid time value '{}'", val.text)),
        }
    }

    /// `http-check expect status N` and `http-check send ...`.
    fn http_check(&mut self, s: &mut ProxySettings, w: &[Word]) {
        match (w.get(1).map(|x| x.text.as_str()), w.get(2)) {
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
                            self.err(k.col, format!("unexpected '{other}' in 'http-check send'"));
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
        }
    }

    /// `stats enable|uri|auth|realm|refresh|hide-version|show-legends`; the others
    /// (`show-node`, `show-desc`, `admin`...) change nothing that guards the page and are
    /// warnings. `stats http-request` rules
    /// guard it and are refused.
    fn stats_kw(&mut self, s: &mut ProxySettings, w: &[Word]) {
        let value = w.get(2);
        match w.get(1).map(|x| x.text.as_str()) {
            Some("enable") => {
                if s.stats_uri.is_none() {
                    s.stats_uri = Some("/haproxy?stats".into());
                }
            }
            Some("uri") => match value {
                Some(u) if u.text.starts_with('/') => s.stats_uri = Some(u.text.clone()),
                _ => self.err(w[1].col, "'stats uri' needs a path starting with '/'"),
            },
            Some("auth") => match value.and_then(|v| v.text.split_once(':')) {
                Some((user, pass)) if !user.is_empty() => {
                    s.stats_auth.push((user.to_string(), pass.to_string()));
                    if s.stats_uri.is_none() {
                        s.stats_uri = Some("/haproxy?stats".into());
                    }
                }
                _ => self.err(w[1].col, "'stats auth' needs USER:PASSWORD"),
            },
            Some("realm") => match value {
                Some(r) => {
                    s.stats_realm = Some(
                        w[2..]
                            .iter()
                            .map(|x| x.text.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                    )
                    .filter(|_| !r.text.is_empty())
                }
                None => self.err(w[1].col, "'stats realm' needs a realm"),
            },
            Some("refresh") => match value.and_then(|v| parse_time(&v.text)) {
                Some(d) if !d.is_zero() => s.stats_refresh = Some(d),
                _ => self.err(w[1].col, "'stats refresh' needs a time value"),
            },
            Some("hide-version") => s.stats_hide_version = true,
            Some("show-legends") => s.stats_show_legends = true,
            Some(sub @ "http-request") => {
                let sub = sub.to_string();
                self.err(
                    w[1].col,
                    format!(
                        "'stats {sub}' is not supported (refused: it guards the statistics page)"
                    ),
                )
            }
            Some(sub) => {
                let sub = sub.to_string();
                self.warn(w[1].col, format!("'stats {sub}' is not supported; ignored"))
            }
            None => self.err(w[0].col, "'stats' needs a sub-keyword"),
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
        if !listed(OPTIONS, &opt.text) {
            if OPTION_UNSUPPORTED.contains(&opt.text.as_str()) {
                let message = format!("'option {}' is not supported; ignored", opt.text);
                self.warn(opt.col, message);
            } else {
                self.err(opt.col, format!("unknown option '{}'", opt.text));
            }
            return;
        }
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
            "http-keep-alive" | "http-server-close" | "httpclose" | "forceclose"
            | "http-tunnel" => s.conn_mode = conn_mode(&opt.text, on, s.conn_mode),
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
            "splice-auto" => s.splice.auto = on,
            "splice-request" => s.splice.request = on,
            "splice-response" => s.splice.response = on,
            "httpchk" => s.httpchk = on.then(|| httpchk(&rest[1..])),
            _ => self.unhandled(opt),
        }
    }
}

/// The connection mode after `[no] option NAME`: `no option http-keep-alive` leaves it.
fn conn_mode(name: &str, on: bool, current: HttpConnMode) -> HttpConnMode {
    match (name, on) {
        ("http-keep-alive", true) => HttpConnMode::KeepAlive,
        ("http-keep-alive", false) => current,
        ("http-server-close", true) => HttpConnMode::ServerClose,
        (_, true) => HttpConnMode::Close,
        (_, false) => HttpConnMode::KeepAlive,
    }
}

/// `option httpchk [METH] [URI] [VERSION[\r\nHeaders]]`, or just `<uri>`.
fn httpchk(args: &[Word]) -> HttpCheckConfig {
    let args: Vec<&str> = args.iter().map(|x| x.text.as_str()).collect();
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
    HttpCheckConfig {
        method: method.to_string(),
        uri: uri.to_string(),
        host,
    }
}
