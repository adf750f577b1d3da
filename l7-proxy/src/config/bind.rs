//! `bind` lines: addresses, `ssl` with its certificates and protocol options, and the TLS
//! option words shared with `server` lines and `ssl-default-*-options`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::keywords::{listed, BIND, BIND_UNSUPPORTED, TLS};
use super::lex::Word;
use super::parse::{Parser, ProxyBuild};
use super::tls::{
    parse_ciphers12, parse_ciphers13, parse_curves, BindTls, ClientVerify, Selection, TlsParams,
    TlsVersion,
};
use super::Bind;

/// `path` under `base` when it is relative and a base is set.
pub(super) fn based(base: Option<&Path>, path: &str) -> PathBuf {
    match base {
        Some(b) if !path.starts_with('/') => b.join(path),
        _ => PathBuf::from(path),
    }
}

impl Parser {
    /// `bind ADDR[,ADDR...] [options]`.
    pub(super) fn bind_line(&mut self, p: &mut ProxyBuild, w: &[Word]) {
        let Some(addr) = w.get(1) else {
            self.err(w[0].col, "'bind' needs an address");
            return;
        };
        let first = p.binds.len();
        self.bind_addrs(p, addr);
        let mut opts = BindOpts {
            ssl: false,
            tls: BindTls {
                origin: self.pos(w[0].col).origin(),
                ..BindTls::default()
            },
            interface: None,
            backlog: None,
        };
        let mut tls_word: Option<&Word> = None;
        let mut i = 2;
        while let Some(x) = w.get(i) {
            i += self.bind_option(&mut opts, w, i);
            if is_bind_tls_word(&x.text) {
                tls_word.get_or_insert(x);
            }
        }
        if let (false, Some(x)) = (opts.ssl, tls_word) {
            self.err(
                x.col,
                format!("'{}' needs 'ssl' on the same bind line", x.text),
            );
        }
        let tls = opts.ssl.then(|| Arc::new(opts.tls));
        for (b, _) in &mut p.binds[first..] {
            b.tls.clone_from(&tls);
            b.interface.clone_from(&opts.interface);
            b.backlog = opts.backlog;
        }
    }

    /// One option of a bind line at `w[i]`; returns the words it took.
    fn bind_option(&mut self, o: &mut BindOpts, w: &[Word], i: usize) -> usize {
        let x = &w[i];
        let k = x.text.as_str();
        if !listed(BIND, k) && !listed(TLS, k) {
            return self.bind_unlisted(w, i);
        }
        if let Some(n) = self.tls_param(&mut o.tls.params, w, i) {
            return n;
        }
        let tls = &mut o.tls;
        let (ca_base, crt_base) = (
            self.global.tls.ca_base.clone(),
            self.global.tls.crt_base.clone(),
        );
        match (k, w.get(i + 1)) {
            ("ssl", _) => o.ssl = true,
            ("strict-sni", _) => tls.strict_sni = true,
            ("prefer-client-ciphers", _) => {}
            ("crt", Some(v)) => tls.crt.push(based(crt_base.as_deref(), &v.text)),
            ("ca-file", Some(v)) => tls.ca_file = Some(based(ca_base.as_deref(), &v.text)),
            ("crl-file", Some(v)) => tls.crl_file = Some(based(ca_base.as_deref(), &v.text)),
            ("alpn", Some(v)) => tls.alpn = v.text.split(',').map(str::to_string).collect(),
            ("interface", Some(v)) => o.interface = Some(v.text.clone()),
            ("backlog", Some(v)) => match v.text.parse::<u32>() {
                Ok(n) if n >= 1 => o.backlog = Some(n),
                _ => self.err(v.col, "'backlog' needs a positive integer"),
            },
            ("crt-list", Some(_)) => self.warn(
                x.col,
                "bind option 'crt-list' is not supported; its certificates are not loaded",
            ),
            ("npn", Some(_)) => self.warn(
                x.col,
                "bind option 'npn' is obsolete and not supported; ignored",
            ),
            ("verify", Some(v)) => match v.text.as_str() {
                "none" => tls.verify = ClientVerify::None,
                "optional" => tls.verify = ClientVerify::Optional,
                "required" => tls.verify = ClientVerify::Required,
                other => self.err(
                    v.col,
                    format!("'verify' takes none, optional or required, found '{other}'"),
                ),
            },
            (_, None) => {
                self.err(x.col, format!("'{k}' needs a value"));
                return 1;
            }
            _ => {
                self.unhandled(x);
                return 1;
            }
        }
        match k {
            "ssl" | "strict-sni" | "prefer-client-ciphers" => 1,
            _ => 2,
        }
    }

    /// An option `BIND` and `TLS` do not list: a warning when HAProxy knows it, else an
    /// error. Returns the words it took.
    fn bind_unlisted(&mut self, w: &[Word], i: usize) -> usize {
        let (x, k) = (&w[i], w[i].text.as_str());
        match BIND_UNSUPPORTED.iter().find(|(n, _)| *n == k) {
            Some((_, takes)) => {
                self.warn(
                    x.col,
                    format!("bind option '{k}' is not supported; ignored"),
                );
                if *takes {
                    2
                } else {
                    1
                }
            }
            None => {
                self.err(x.col, format!("unknown bind option '{k}'"));
                1
            }
        }
    }

    /// One TLS protocol option at `w[i]` into `p`: the number of words it took, or `None`
    /// when `w[i]` is not one. Shared by `bind`, `server` and `ssl-default-*-options`.
    pub(super) fn tls_param(&mut self, p: &mut TlsParams, w: &[Word], i: usize) -> Option<usize> {
        let x = &w[i];
        let k = x.text.as_str();
        let val = w.get(i + 1);
        if !listed(TLS, k) {
            return None;
        }
        let flag = |p: &mut TlsParams, v: TlsVersion| {
            if !p.disabled.contains(&v) {
                p.disabled.push(v);
            }
        };
        match k {
            // rustls never offers these versions: nothing to switch off.
            "no-sslv3" | "no-tlsv10" | "no-tlsv11" => {}
            "no-tlsv12" => flag(p, TlsVersion::Tls12),
            "no-tlsv13" => flag(p, TlsVersion::Tls13),
            "force-tlsv12" | "force-tlsv13" => {
                let v = if k == "force-tlsv12" { TlsVersion::Tls12 } else { TlsVersion::Tls13 };
                p.min_ver = Some(v);
                p.max_ver = Some(v);
            }
            "force-sslv3" | "force-tlsv10" | "force-tlsv11" => {
                self.err(x.col, format!("'{k}': rustls offers only TLSv1.2 and TLSv1.3"));
            }
            "no-tls-tickets" => p.tickets = Some(false),
            "tls-tickets" => p.tickets = Some(true),
            "allow-0rtt" => self.warn(
                x.col,
                "'allow-0rtt' is not supported: early data is refused (handshakes take a round trip)",
            ),
            "sigalgs" | "client-sigalgs" => {
                self.err(x.col, format!("'{k}' is not supported (refused: it restricts signatures)"));
                return Some(2);
            }
            "ssl-min-ver" | "ssl-max-ver" | "ciphers" | "ciphersuites" | "curves" | "ecdhe" => {
                let Some(v) = val else {
                    self.err(x.col, format!("'{k}' needs a value"));
                    return Some(1);
                };
                self.tls_value(p, k, v);
                return Some(2);
            }
            _ => self.unhandled(x),
        }
        Some(1)
    }

    fn tls_value(&mut self, p: &mut TlsParams, k: &str, v: &Word) {
        match k {
            "ssl-min-ver" | "ssl-max-ver" => match TlsVersion::parse(&v.text) {
                Some(ver) if k == "ssl-min-ver" => p.min_ver = Some(ver),
                Some(ver) => p.max_ver = Some(ver),
                None => self.err(
                    v.col,
                    format!(
                        "'{k}' takes SSLv3, TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3, found '{}'",
                        v.text
                    ),
                ),
            },
            "ciphers" => p.ciphers = self.selection(parse_ciphers12(&v.text), k, v),
            "ciphersuites" => p.ciphersuites = self.selection(parse_ciphers13(&v.text), k, v),
            _ => p.curves = self.selection(parse_curves(&v.text), k, v),
        }
    }

    /// The chosen list, with a warning naming what rustls does not offer.
    fn selection<T>(
        &mut self,
        r: Result<Selection<T>, String>,
        k: &str,
        v: &Word,
    ) -> Option<Vec<T>> {
        match r {
            Ok(s) => {
                if !s.dropped.is_empty() {
                    self.warn(
                        v.col,
                        format!(
                            "'{k}': {} not offered by rustls; left out",
                            s.dropped.join(", ")
                        ),
                    );
                }
                Some(s.chosen)
            }
            Err(m) => {
                self.err(v.col, m);
                None
            }
        }
    }

    /// Adds one bind per address of `addr[:port][,addr:port...]`.
    pub(super) fn bind_addrs(&mut self, p: &mut ProxyBuild, w: &Word) {
        for part in w.text.split(',') {
            match parse_bind_addr(part) {
                Ok(addr) => p.binds.push((
                    Bind {
                        addr,
                        tls: None,
                        interface: None,
                        backlog: None,
                    },
                    self.pos(w.col),
                )),
                Err(m) => self.err(w.col, m),
            }
        }
    }
}

/// A bind line's options being read.
struct BindOpts {
    ssl: bool,
    tls: BindTls,
    interface: Option<String>,
    backlog: Option<u32>,
}

/// Words that only make sense with `ssl`.
fn is_bind_tls_word(k: &str) -> bool {
    matches!(
        k,
        "crt"
            | "crt-list"
            | "alpn"
            | "ca-file"
            | "crl-file"
            | "verify"
            | "strict-sni"
            | "ssl-min-ver"
            | "ssl-max-ver"
            | "ciphers"
            | "ciphersuites"
            | "curves"
            | "ecdhe"
            | "no-tlsv12"
            | "no-tlsv13"
            | "force-tlsv12"
            | "force-tlsv13"
            | "no-tls-tickets"
    )
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
