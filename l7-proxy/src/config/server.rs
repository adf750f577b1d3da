//! `server` lines and `default-server`: weights, checks, limits and TLS to the server.

use super::bind::based;
use super::keywords::{listed, SERVER, SERVER_UNSUPPORTED, TLS};
use super::lex::Word;
use super::parse::{Parser, PendingServer, ProxyBuild};
use super::tls::ServerSni;
use super::{parse_time, ServerParams};

impl Parser {
    /// `server NAME ADDRESS [params]`.
    pub(super) fn server_line(&mut self, p: &mut ProxyBuild, w: &[Word]) {
        let (Some(name), Some(addr)) = (w.get(1), w.get(2)) else {
            self.err(w[0].col, "'server' needs a name and an address");
            return;
        };
        let mut params = p.settings.default_server.clone();
        params.tls.origin = self.pos(w[0].col).origin();
        self.server_params(&mut params, &w[3..]);
        if p.servers.iter().any(|s| s.name == name.text) {
            self.err(
                name.col,
                format!(
                    "duplicate server name '{}' in {} '{}'",
                    name.text,
                    p.kind.name(),
                    p.name
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

    pub(super) fn server_params(&mut self, p: &mut ServerParams, w: &[Word]) {
        let mut i = 0;
        while let Some(x) = w.get(i) {
            let k = x.text.as_str();
            let val = w.get(i + 1);
            if !listed(SERVER, k) && !listed(TLS, k) {
                i += self.server_unlisted(x, val.is_some());
                continue;
            }
            let took = match self.server_flag(p, x) {
                true => 1,
                false => match self.tls_param(&mut p.tls.params, w, i) {
                    Some(n) => n,
                    None => match val {
                        Some(v) => self.server_value(p, x, v),
                        None => {
                            self.err(x.col, format!("'{k}' needs a value"));
                            return;
                        }
                    },
                },
            };
            i += took;
        }
    }

    /// Options without a value; false when `k` is not one.
    fn server_flag(&mut self, p: &mut ServerParams, x: &Word) -> bool {
        match x.text.as_str() {
            "check" => p.check = true,
            "no-check" => p.check = false,
            "backup" => p.backup = true,
            "no-backup" => p.backup = false,
            "disabled" => p.disabled = true,
            "ssl" => p.ssl = true,
            "no-ssl" => p.ssl = false,
            "check-ssl" => p.check_ssl = Some(true),
            "no-check-ssl" => p.check_ssl = Some(false),
            "no-verifyhost" => {
                // Checking the chain but not the name is not offered: refuse rather than
                // check less or more than asked.
                self.err(
                    x.col,
                    "'no-verifyhost' is not supported (use 'verify none' to skip verification)",
                );
            }
            _ => return false,
        }
        true
    }

    /// Options taking a value; returns the words used.
    fn server_value(&mut self, p: &mut ServerParams, x: &Word, v: &Word) -> usize {
        let k = x.text.as_str();
        match k {
            "inter" | "fastinter" | "downinter" => match parse_time(&v.text) {
                Some(d) if !d.is_zero() => match k {
                    "inter" => p.inter = d,
                    "fastinter" => p.fastinter = Some(d),
                    _ => p.downinter = Some(d),
                },
                _ => self.err(x.col, format!("'{k}' needs a non-zero time value")),
            },
            "rise" | "fall" | "weight" | "maxconn" | "maxqueue" => {
                let (lo, hi) = match k {
                    "rise" | "fall" => (1, 1000),
                    "weight" => (0, 256),
                    _ => (0, 1_000_000),
                };
                match v.text.parse::<u32>() {
                    Ok(n) if n >= lo && n <= hi => match k {
                        "rise" => p.rise = n,
                        "fall" => p.fall = n,
                        "weight" => p.weight = n,
                        "maxconn" => p.maxconn = n,
                        _ => p.maxqueue = n,
                    },
                    _ => self.err(x.col, format!("'{k}' needs an integer in {lo}..={hi}")),
                }
            }
            "verify" | "ca-file" | "crl-file" | "crt" | "verifyhost" | "sni" | "alpn"
            | "check-alpn" => self.server_tls_value(p, x, v),
            "pool-max-conn" => match v.text.parse::<i64>() {
                Ok(-1) => p.pool_max_conn = None,
                Ok(n) if (0..=1_000_000).contains(&n) => p.pool_max_conn = Some(n as u32),
                _ => self.err(
                    v.col,
                    "'pool-max-conn' needs -1 or an integer in 0..=1000000",
                ),
            },
            "pool-purge-delay" => match parse_time(&v.text) {
                Some(d) => p.pool_purge_delay = d,
                None => self.err(v.col, "'pool-purge-delay' needs a time value"),
            },
            // HAProxy: the idle count below which a thread does not take another thread's
            // idle connection. The pool here is shared by all threads: nothing to tune.
            "pool-low-conn" => match v.text.parse::<u32>() {
                Ok(_) => self.warn(
                    x.col,
                    "'pool-low-conn' has no effect: idle connections are shared by all threads",
                ),
                Err(_) => self.err(v.col, "'pool-low-conn' needs an integer"),
            },
            "check-sni" => self.warn(
                x.col,
                "server option 'check-sni' is not supported; checks send the server's 'sni'",
            ),
            _ => {
                self.unhandled(x);
                return 1;
            }
        }
        2
    }

    /// An option `SERVER` and `TLS` do not list (`has_value`: a word follows it): a warning
    /// when HAProxy knows it, else an error. Returns the words it took.
    fn server_unlisted(&mut self, x: &Word, has_value: bool) -> usize {
        let k = x.text.as_str();
        match SERVER_UNSUPPORTED.iter().find(|(n, _)| *n == k) {
            Some((_, true)) if !has_value => {
                self.err(x.col, format!("'{k}' needs a value"));
                1
            }
            Some((_, takes)) => {
                let message = format!("server option '{k}' is not supported; ignored");
                self.warn(x.col, message);
                if *takes {
                    2
                } else {
                    1
                }
            }
            None => {
                self.err(x.col, format!("unknown server option '{k}'"));
                1
            }
        }
    }

    /// The TLS options of a server that take a value.
    fn server_tls_value(&mut self, p: &mut ServerParams, x: &Word, v: &Word) {
        let k = x.text.as_str();
        match k {
            "verify" => match v.text.as_str() {
                "none" => p.tls.verify = Some(false),
                "required" => p.tls.verify = Some(true),
                other => self.err(
                    v.col,
                    format!("'verify' takes none or required, found '{other}'"),
                ),
            },
            "ca-file" => {
                p.tls.ca_file = Some(if v.text == "@system-ca" {
                    "@system-ca".into()
                } else {
                    based(self.global.tls.ca_base.as_deref(), &v.text)
                })
            }
            "crl-file" => p.tls.crl_file = Some(based(self.global.tls.ca_base.as_deref(), &v.text)),
            "crt" => p.tls.crt = Some(based(self.global.tls.crt_base.as_deref(), &v.text)),
            "verifyhost" => p.tls.verifyhost = Some(v.text.clone()),
            "sni" => match v.text.as_str() {
                "req.hdr(host)" | "req.hdr(Host)" | "hdr(host)" | "req.hdr(host,1)" => {
                    p.tls.sni = Some(ServerSni::RequestHost)
                }
                "ssl_fc_sni" => p.tls.sni = Some(ServerSni::ClientSni),
                s => match s.strip_prefix("str(").and_then(|r| r.strip_suffix(')')) {
                    Some(name) if !name.is_empty() => {
                        p.tls.sni = Some(ServerSni::Fixed(name.into()))
                    }
                    _ => self.err(
                        v.col,
                        format!(
                            "'sni {s}' is not supported (str(NAME), req.hdr(host) or ssl_fc_sni)"
                        ),
                    ),
                },
            },
            "alpn" | "check-alpn" => {
                let protos: Vec<String> = v.text.split(',').map(str::to_string).collect();
                if protos.iter().any(|a| a != "http/1.1" && a != "http/1.0") {
                    self.err(
                        v.col,
                        format!("'{k} {}': only HTTP/1.1 is spoken to servers", v.text),
                    );
                } else if k == "alpn" {
                    p.tls.alpn = protos;
                }
            }
            _ => {}
        }
    }
}
