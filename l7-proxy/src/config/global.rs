//! The `global` section: process settings, `log` targets, TLS defaults, `tune.*`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::keywords::{listed, GLOBAL, GLOBAL_UNSUPPORTED};
use super::lex::Word;
use super::parse::Parser;
use super::{parse_time, H2Limits, LogConfig, LogTarget};

impl Parser {
    pub(super) fn global_kw(&mut self, w: &[Word]) {
        let kw = w[0].text.as_str();
        if !listed(GLOBAL, kw) {
            if GLOBAL_UNSUPPORTED.contains(&kw) {
                self.warn(w[0].col, format!("'{kw}' is not supported; ignored"));
            } else {
                let message = format!("unknown keyword '{kw}' in 'global' section");
                self.err(w[0].col, message);
            }
            return;
        }
        match kw {
            "maxconn" => self.global.maxconn = self.num(w, 1, 1, u32::MAX),
            "ulimit-n" => self.global.ulimit_n = self.num(w, 1, 1, u32::MAX),
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
            "nosplice" => self.global.nosplice = true,
            "maxpipes" => self.global.maxpipes = self.num(w, 1, 0, u32::MAX),
            "log" => {
                if let Some(l) = self.log_target(w) {
                    self.global.logs.push(l);
                }
            }
            "ca-base" => self.global.tls.ca_base = self.arg(w, 1).map(PathBuf::from),
            "crt-base" => self.global.tls.crt_base = self.arg(w, 1).map(PathBuf::from),
            "ssl-server-verify" => match self.arg(w, 1) {
                Some("required") => self.global.tls.server_verify = true,
                Some("none") => self.global.tls.server_verify = false,
                Some(v) => {
                    let v = v.to_string();
                    self.err(
                        w[1].col,
                        format!("'ssl-server-verify' takes 'required' or 'none', found '{v}'"),
                    )
                }
                None => {}
            },
            _ if kw.starts_with("ssl-default-") => self.ssl_default(w),
            _ if kw.starts_with("tune.") => self.tune(w),
            _ => self.unhandled(&w[0]),
        }
    }

    /// `ssl-default-{bind,server}-{ciphers,ciphersuites,curves,options}`.
    fn ssl_default(&mut self, w: &[Word]) {
        let kw = w[0].text.as_str();
        let Some(rest) = kw.strip_prefix("ssl-default-") else {
            return;
        };
        let (side, what) = match rest.split_once('-') {
            Some(x) => x,
            None => ("", rest),
        };
        let mut p = match side {
            "bind" => std::mem::take(&mut self.global.tls.bind_defaults),
            "server" => std::mem::take(&mut self.global.tls.server_defaults),
            _ => {
                self.err(
                    w[0].col,
                    format!("unknown keyword '{kw}' in 'global' section"),
                );
                return;
            }
        };
        match what {
            "ciphers" | "ciphersuites" | "curves" | "sigalgs" | "client-sigalgs" => {
                // Same words as on a `bind`/`server` line.
                let words = [Word {
                    text: what.to_string(),
                    col: w[0].col,
                }];
                let mut line = words.to_vec();
                line.extend(w[1..].iter().cloned());
                if line.len() < 2 {
                    self.err(w[0].col, format!("'{kw}' needs a value"));
                } else {
                    self.tls_param(&mut p, &line, 0);
                }
            }
            "options" => {
                let mut i = 1;
                while i < w.len() {
                    match self.tls_param(&mut p, w, i) {
                        Some(n) => i += n,
                        None => {
                            let o = &w[i];
                            if side == "bind" && o.text == "prefer-client-ciphers" {
                                i += 1;
                                continue;
                            }
                            self.err(
                                o.col,
                                format!("'{kw}': option '{}' is not supported", o.text),
                            );
                            i += 1;
                        }
                    }
                }
            }
            _ => self.err(
                w[0].col,
                format!("unknown keyword '{kw}' in 'global' section"),
            ),
        }
        match side {
            "bind" => self.global.tls.bind_defaults = p,
            _ => self.global.tls.server_defaults = p,
        }
    }

    /// `tune.ssl.*` and `tune.h2.*` that are honoured; other tunables are warnings.
    fn tune(&mut self, w: &[Word]) {
        let kw = w[0].text.as_str();
        if let Some((lo, hi)) = h2_range(kw) {
            if let Some(n) = self.num(w, 1, lo, hi) {
                if let Some(field) = h2_field(&mut self.global.h2, kw) {
                    *field = n;
                }
            }
            return;
        }
        match kw {
            "tune.ssl.cachesize" => {
                if let Some(n) = self.num(w, 1, 0, 10_000_000) {
                    self.global.tls.cache_size = n as usize;
                }
            }
            "tune.ssl.lifetime" => match w.get(1).and_then(|v| parse_time(&v.text)) {
                Some(d) => self.global.tls.lifetime = d,
                None => self.err(w[0].col, "'tune.ssl.lifetime' needs a time value"),
            },
            _ => self.warn(w[0].col, format!("'{kw}' is not supported; ignored")),
        }
    }

    /// `log <target> [len N] [format F] <facility> [level [minlevel]]`, or `log global`.
    pub(super) fn log_target(&mut self, w: &[Word]) -> Option<LogConfig> {
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
}

/// The bounds of a `tune.h2.*` value. RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE is
/// 16384..=16777215 and a window at most 2^31-1.
fn h2_range(kw: &str) -> Option<(u32, u32)> {
    Some(match kw.replace(".fe.", ".").as_str() {
        "tune.h2.max-concurrent-streams" | "tune.h2.header-table-size" => (1, 65_535),
        "tune.h2.initial-window-size" => (1, 2_147_483_647),
        "tune.h2.max-frame-size" => (16_384, 16_777_215),
        "tune.h2.max-header-list-size" => (1024, 1 << 20),
        _ => return None,
    })
}

fn h2_field<'a>(h: &'a mut H2Limits, kw: &str) -> Option<&'a mut u32> {
    Some(match kw.replace(".fe.", ".").as_str() {
        "tune.h2.max-concurrent-streams" => &mut h.max_concurrent_streams,
        "tune.h2.header-table-size" => &mut h.header_table_size,
        "tune.h2.initial-window-size" => &mut h.initial_window_size,
        "tune.h2.max-frame-size" => &mut h.max_frame_size,
        "tune.h2.max-header-list-size" => &mut h.max_header_list_size,
        _ => return None,
    })
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
