//! The statistics page (`stats enable` / `stats uri`): HAProxy's CSV (`;csv`) and a small
//! HTML table, from the live counters of one configuration generation.

use std::fmt::Write;
use std::sync::{Arc, Weak};

use crate::backend::Backend;
use crate::frontend::FrontendRt;

/// The proxies a statistics page reports on.
#[derive(Debug, Default)]
pub struct StatsView {
    /// Frontends (weak: they own this view).
    pub frontends: Vec<Weak<FrontendRt>>,
    /// Backends in configuration order.
    pub backends: Vec<Arc<Backend>>,
}

/// The first columns of HAProxy's CSV, enough for the usual exporters and dashboards.
const HEADER: &str = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,\n";

/// One CSV row; `None` fields are empty, as HAProxy leaves unknown values.
struct Row<'a> {
    px: &'a str,
    sv: &'a str,
    qcur: Option<usize>,
    scur: usize,
    slim: Option<u64>,
    stot: u64,
    status: &'a str,
    weight: Option<u32>,
    act: Option<u32>,
    bck: Option<u32>,
    kind: u8,
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

impl Row<'_> {
    fn csv(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "{},{},{},,{},,{},{},,,,,,,,,,{},{},{},{},,,,,,{},,,,{},,{},",
            self.px,
            self.sv,
            opt(self.qcur),
            self.scur,
            opt(self.slim),
            self.stot,
            self.status,
            opt(self.weight),
            opt(self.act),
            opt(self.bck),
            std::process::id(),
            if self.kind == 2 {
                self.stot.to_string()
            } else {
                String::new()
            },
            self.kind,
        );
    }
}

impl StatsView {
    fn rows(&self, mut f: impl FnMut(Row<'_>)) {
        for fe in self.frontends.iter().filter_map(Weak::upgrade) {
            f(Row {
                px: &fe.cfg.name,
                sv: "FRONTEND",
                qcur: None,
                scur: fe
                    .counters
                    .active
                    .load(std::sync::atomic::Ordering::Relaxed),
                slim: fe.cfg.settings.maxconn.map(u64::from),
                stot: fe.counters.total.load(std::sync::atomic::Ordering::Relaxed),
                status: "OPEN",
                weight: None,
                act: None,
                bck: None,
                kind: 0,
            });
        }
        for be in &self.backends {
            for s in &be.servers {
                f(Row {
                    px: &be.name,
                    sv: &s.name,
                    qcur: Some(s.queued()),
                    scur: s.active(),
                    slim: (s.maxconn() > 0).then(|| u64::from(s.maxconn())),
                    stot: s.total(),
                    status: s.status(),
                    weight: Some(s.weight),
                    act: Some(u32::from(!s.backup)),
                    bck: Some(u32::from(s.backup)),
                    kind: 2,
                });
            }
            let (a, b) = be.up_counts();
            f(Row {
                px: &be.name,
                sv: "BACKEND",
                qcur: Some(be.servers.iter().map(|s| s.queued()).sum()),
                scur: be.active(),
                slim: None,
                stot: be.servers.iter().map(|s| s.total()).sum(),
                status: if a + b > 0 { "UP" } else { "DOWN" },
                weight: Some(
                    be.servers
                        .iter()
                        .filter(|s| s.is_up() && !s.backup)
                        .map(|s| s.weight)
                        .sum(),
                ),
                act: Some(u32::try_from(a).unwrap_or(u32::MAX)),
                bck: Some(u32::try_from(b).unwrap_or(u32::MAX)),
                kind: 1,
            });
        }
    }

    /// HAProxy's CSV.
    pub fn csv(&self) -> String {
        let mut out = String::from(HEADER);
        self.rows(|r| r.csv(&mut out));
        out
    }

    /// A minimal HTML table of the same rows.
    pub fn html(&self) -> String {
        let mut out = String::from(
            "<html><head><title>Statistics Report</title></head><body><h1>lbproxy statistics</h1>\n<table border=1><tr><th>proxy</th><th>server</th><th>status</th><th>weight</th><th>cur</th><th>total</th><th>queue</th></tr>\n",
        );
        self.rows(|r| {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                html_escape(r.px),
                html_escape(r.sv),
                r.status,
                opt(r.weight),
                r.scur,
                r.stot,
                opt(r.qcur)
            );
        });
        out.push_str("</table></body></html>\n");
        out
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
