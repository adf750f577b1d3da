//! Statistics: the counters frontends, backends and servers keep ([`counters`]), their
//! rows in HAProxy's CSV columns ([`fields`], [`rows`]), and the three ways they are
//! served: the CSV (`;csv`), the HTML page ([`html`]) and the Prometheus exporter
//! ([`prometheus`]), all from the live counters of one configuration generation; and the
//! same series through the `metrics` facade ([`facade`]).

pub mod counters;
pub mod facade;
pub mod fields;
pub mod html;
pub mod prometheus;
pub mod rows;

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::backend::Backend;
use crate::frontend::FrontendRt;
use rows::{Ids, Row};

/// A proxy as the statistics list it: a frontend, a backend, or both for a `listen`.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Name.
    pub name: String,
    /// Its frontend (weak: frontends own the view).
    pub frontend: Option<Weak<FrontendRt>>,
    /// Its backend.
    pub backend: Option<Arc<Backend>>,
}

/// The proxies a statistics page reports on, in configuration order.
#[derive(Debug, Default)]
pub struct StatsView {
    /// The proxies.
    pub proxies: Vec<ProxyStats>,
    /// Worker threads (`nbthread`).
    pub threads: usize,
    /// `maxconn` of the `global` section.
    pub max_connections: Option<u32>,
}

/// When the process started (the first time anything asked).
pub fn process_start() -> SystemTime {
    static START: OnceLock<SystemTime> = OnceLock::new();
    *START.get_or_init(SystemTime::now)
}

/// The soft open-file limit (`max_fds` in HAProxy's terms), from `/proc/self/limits`.
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

impl StatsView {
    /// The view of `proxies` (frontends and backends paired by name; a frontend's or a
    /// listen's row comes first, as HAProxy lists them).
    pub fn new(
        frontends: &[Arc<FrontendRt>],
        backends: Vec<Arc<Backend>>,
        threads: usize,
        max_connections: Option<u32>,
    ) -> StatsView {
        let mut proxies: Vec<ProxyStats> = frontends
            .iter()
            .map(|fe| ProxyStats {
                name: fe.cfg.name.clone(),
                frontend: Some(Arc::downgrade(fe)),
                backend: None,
            })
            .collect();
        for be in backends {
            match proxies.iter_mut().find(|p| p.name == be.name) {
                Some(p) => p.backend = Some(be),
                None => proxies.push(ProxyStats {
                    name: be.name.clone(),
                    frontend: None,
                    backend: Some(be),
                }),
            }
        }
        // Started now at the latest: the uptime counts from the first configuration.
        process_start();
        StatsView {
            proxies,
            threads,
            max_connections,
        }
    }

    /// The rows now: for each proxy its FRONTEND row, its servers, its BACKEND row.
    pub fn rows(&self) -> Vec<Row> {
        let now = counters::now_ms();
        let mut out = Vec::new();
        for (i, p) in self.proxies.iter().enumerate() {
            let proxy = i + 1;
            let frontend = p.frontend.as_ref().and_then(Weak::upgrade);
            if let Some(fe) = frontend {
                out.push(rows::frontend(&fe, Ids { proxy, server: 0 }, now));
            }
            if let Some(be) = &p.backend {
                for (j, s) in be.servers.iter().enumerate() {
                    let ids = Ids {
                        proxy,
                        server: j + 1,
                    };
                    out.push(rows::server(be, s, ids, now));
                }
                out.push(rows::backend(be, Ids { proxy, server: 0 }, now));
            }
        }
        out
    }

    /// HAProxy's CSV (`;csv`): the header line, then one line per row.
    pub fn csv(&self) -> String {
        let rows = self.rows();
        let mut out = fields::header();
        out.reserve(rows.len() * 256);
        for r in &rows {
            for c in r.cells() {
                let _ = write!(out, "{c},");
            }
            out.push('\n');
        }
        out
    }

    /// The HTML page.
    pub fn html(&self, page: html::Page<'_>) -> String {
        let p = self.process();
        let mut page = page;
        page.process = vec![
            ("pid", std::process::id().to_string()),
            ("uptime", html::human_secs(p.uptime)),
            ("threads", p.threads.to_string()),
            ("current connections", p.current_connections.to_string()),
            ("connections accepted", p.connections_total.to_string()),
            ("requests", p.requests_total.to_string()),
        ];
        html::render(&self.rows(), &page)
    }

    /// The Prometheus text exposition, HAProxy's built-in exporter's names.
    pub fn prometheus(&self) -> String {
        prometheus::render(&self.process(), &self.rows())
    }

    /// Process-wide figures, summed over the frontends.
    pub fn process(&self) -> prometheus::Process {
        let start = process_start();
        let mut p = prometheus::Process {
            threads: self.threads,
            start_time: start.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            uptime: start.elapsed().map_or(0, |d| d.as_secs()),
            max_fds: open_file_limit(),
            max_connections: self.max_connections.map(u64::from),
            ..Default::default()
        };
        for fe in self
            .proxies
            .iter()
            .filter_map(|x| x.frontend.as_ref().and_then(Weak::upgrade))
        {
            let c = &fe.counters;
            p.current_connections += c.active.load(Relaxed) as u64;
            p.connections_total += c.traffic.sessions_total.load(Relaxed);
            p.requests_total += c.traffic.requests.load(Relaxed);
            p.ssl_connections_total += c.tls_sessions.load(Relaxed);
            p.listeners += fe.cfg.binds.len() as u64;
            p.stopping |= *fe.retired.borrow();
        }
        p
    }
}
