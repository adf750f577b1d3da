//! The statistics rows of frontends, backends and servers: one value per CSV column, read
//! from live counters and state. The CSV, the HTML page and the Prometheus exporter all
//! render these rows, so they cannot disagree.

use std::sync::atomic::Ordering::Relaxed;

use super::counters::Counters;
use super::fields::{Col, COUNT};
use crate::backend::{Backend, Server};
use crate::config::{Balance, Mode};
use crate::frontend::FrontendRt;

/// One value; `Empty` where HAProxy leaves the column empty (unknown or not applicable).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Cell {
    /// No value.
    #[default]
    Empty,
    /// A count or a duration.
    Num(u64),
    /// A value that may be negative (`-1`: never).
    Int(i64),
    /// A word or a name.
    Text(String),
}

impl Cell {
    /// The numeric value, for the Prometheus exporter.
    pub fn number(&self) -> Option<f64> {
        match self {
            Cell::Num(n) => Some(*n as f64),
            Cell::Int(n) => Some(*n as f64),
            _ => None,
        }
    }

    /// The text, for words (`status`, `check_status`).
    pub fn text(&self) -> Option<&str> {
        match self {
            Cell::Text(t) => Some(t),
            _ => None,
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Empty => Ok(()),
            Cell::Num(n) => write!(f, "{n}"),
            Cell::Int(n) => write!(f, "{n}"),
            Cell::Text(t) => f.write_str(t),
        }
    }
}

impl From<u64> for Cell {
    fn from(v: u64) -> Cell {
        Cell::Num(v)
    }
}
impl From<u32> for Cell {
    fn from(v: u32) -> Cell {
        Cell::Num(u64::from(v))
    }
}
impl From<usize> for Cell {
    fn from(v: usize) -> Cell {
        Cell::Num(v as u64)
    }
}
impl From<&str> for Cell {
    fn from(v: &str) -> Cell {
        Cell::Text(v.to_string())
    }
}
impl From<String> for Cell {
    fn from(v: String) -> Cell {
        Cell::Text(v)
    }
}
impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Cell {
        v.map_or(Cell::Empty, Into::into)
    }
}

/// What a row describes (the CSV's `type` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A frontend (`FRONTEND` row).
    Frontend = 0,
    /// A backend (`BACKEND` row).
    Backend = 1,
    /// A server.
    Server = 2,
}

/// One row of the statistics.
#[derive(Debug, Clone)]
pub struct Row {
    /// What it describes.
    pub kind: Kind,
    cells: Vec<Cell>,
}

impl Row {
    fn new(kind: Kind, px: &str, sv: &str, ids: Ids) -> Row {
        let mut r = Row {
            kind,
            cells: vec![Cell::Empty; COUNT],
        };
        r.set(Col::Pxname, px);
        r.set(Col::Svname, sv);
        r.set(Col::Pid, std::process::id());
        r.set(Col::Iid, ids.proxy);
        r.set(Col::Sid, ids.server);
        r.set(Col::Type, kind as u32);
        r
    }

    /// Sets a column.
    pub fn set(&mut self, c: Col, v: impl Into<Cell>) {
        if let Some(cell) = self.cells.get_mut(c as usize) {
            *cell = v.into();
        }
    }

    /// A column's value.
    pub fn get(&self, c: Col) -> &Cell {
        static EMPTY: Cell = Cell::Empty;
        self.cells.get(c as usize).unwrap_or(&EMPTY)
    }

    /// The values in column order.
    pub fn cells(&self) -> &[Cell] {
        &self.cells
    }
}

/// Proxy and server ids of a row (`iid`, `sid`).
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    /// The proxy's id, numbered from 1 in configuration order.
    pub proxy: usize,
    /// The server's id within its backend, from 1; 0 for frontend and backend rows.
    pub server: usize,
}

fn secs(ms: u64) -> u64 {
    ms / 1000
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Http => "http",
        Mode::Tcp => "tcp",
    }
}

/// Columns every kind of row fills the same way from its counters.
fn traffic(r: &mut Row, c: &Counters, now: u64, http: bool) {
    r.set(Col::Smax, c.max_sessions.load(Relaxed));
    r.set(Col::Stot, c.sessions_total.load(Relaxed));
    r.set(Col::Bin, c.bytes_in.load(Relaxed));
    r.set(Col::Bout, c.bytes_out.load(Relaxed));
    r.set(Col::Rate, c.sessions.rate(now));
    r.set(Col::RateMax, c.sessions.max());
    if http {
        const HRSP: [Col; 6] = [
            Col::Hrsp1xx,
            Col::Hrsp2xx,
            Col::Hrsp3xx,
            Col::Hrsp4xx,
            Col::Hrsp5xx,
            Col::HrspOther,
        ];
        for (i, col) in HRSP.into_iter().enumerate() {
            r.set(col, c.responses(i));
        }
        r.set(Col::ReqTot, c.requests.load(Relaxed));
        // No compression and no cache in this engine: truly zero.
        for col in [
            Col::CompIn,
            Col::CompOut,
            Col::CompByp,
            Col::CompRsp,
            Col::CacheLookups,
            Col::CacheHits,
        ] {
            r.set(col, 0u64);
        }
    }
    r.set(Col::Eint, 0u64);
}

/// Columns of backends and servers: the way to servers and the timings.
fn forwarding(r: &mut Row, c: &Counters, now: u64) {
    r.set(Col::Qmax, c.max_queued.load(Relaxed));
    r.set(Col::Dresp, c.denied_resp.load(Relaxed));
    r.set(Col::Econ, c.conn_errors.load(Relaxed));
    r.set(Col::Eresp, c.resp_errors.load(Relaxed));
    r.set(Col::Wretr, c.retries.load(Relaxed));
    r.set(Col::Wredis, c.redispatches.load(Relaxed));
    r.set(Col::Lbtot, c.sessions_total.load(Relaxed));
    r.set(Col::CliAbrt, c.client_aborts.load(Relaxed));
    r.set(Col::SrvAbrt, c.server_aborts.load(Relaxed));
    let last = c.last_session.load(Relaxed);
    r.set(
        Col::Lastsess,
        Cell::Int(if last == 0 {
            -1
        } else {
            i64::try_from(secs(now.saturating_sub(last))).unwrap_or(i64::MAX)
        }),
    );
    for (avg, max, a) in [
        (Col::Qtime, Col::QtimeMax, &c.queue_time),
        (Col::Ctime, Col::CtimeMax, &c.connect_time),
        (Col::Rtime, Col::RtimeMax, &c.response_time),
        (Col::Ttime, Col::TtimeMax, &c.total_time),
    ] {
        r.set(avg, a.ms());
        r.set(max, a.max_ms());
    }
    r.set(Col::Connect, c.connects.load(Relaxed));
    r.set(Col::Reuse, c.reuses.load(Relaxed));
}

/// A frontend's row.
pub fn frontend(fe: &FrontendRt, ids: Ids, now: u64) -> Row {
    let s = &fe.cfg.settings;
    let http = s.mode == Mode::Http;
    let c = &fe.counters;
    let mut r = Row::new(Kind::Frontend, &fe.cfg.name, "FRONTEND", ids);
    traffic(&mut r, &c.traffic, now, http);
    r.set(Col::Scur, c.active.load(Relaxed));
    r.set(Col::Slim, s.maxconn);
    r.set(Col::Dreq, c.traffic.denied_req.load(Relaxed));
    r.set(Col::Dresp, c.traffic.denied_resp.load(Relaxed));
    r.set(Col::Ereq, c.traffic.req_errors.load(Relaxed));
    let stopped = *fe.retired.borrow();
    r.set(Col::Status, if stopped { "STOP" } else { "OPEN" });
    if http {
        r.set(Col::ReqRate, c.traffic.request_rate.rate(now));
        r.set(Col::ReqRateMax, c.traffic.request_rate.max());
        r.set(Col::Intercepted, c.intercepted.load(Relaxed));
        r.set(Col::Wrew, 0u64);
    }
    r.set(Col::Mode, mode_name(s.mode));
    r.set(Col::ConnRate, c.traffic.sessions.rate(now));
    r.set(Col::ConnRateMax, c.traffic.sessions.max());
    r.set(Col::ConnTot, c.traffic.sessions_total.load(Relaxed));
    r.set(Col::Dcon, c.denied_conn.load(Relaxed));
    r.set(Col::Dses, 0u64);
    r
}

/// A backend's row.
pub fn backend(be: &Backend, ids: Ids, now: u64) -> Row {
    let s = &be.settings;
    let http = s.mode == Mode::Http;
    let c = &be.counters;
    let mut r = Row::new(Kind::Backend, &be.name, "BACKEND", ids);
    traffic(&mut r, c, now, http);
    forwarding(&mut r, c, now);
    r.set(Col::Qcur, be.queued());
    r.set(Col::Scur, be.active());
    r.set(Col::Dreq, c.denied_req.load(Relaxed));
    r.set(Col::Status, if be.is_up() { "UP" } else { "DOWN" });
    let (act, bck) = be.up_counts();
    // HAProxy: the weight of the active servers up, or of the backups when none is.
    let backup = act == 0;
    let weight: u32 = be
        .servers
        .iter()
        .filter(|s| s.is_up() && s.backup == backup)
        .map(|s| s.weight)
        .sum();
    r.set(Col::Weight, weight);
    r.set(Col::Uweight, weight);
    r.set(Col::Act, act);
    r.set(Col::Bck, bck);
    r.set(Col::Chkdown, be.downs());
    r.set(Col::Lastchg, secs(be.since_change_ms(now)));
    r.set(Col::Downtime, secs(be.downtime_ms(now)));
    r.set(Col::Mode, mode_name(s.mode));
    r.set(
        Col::Algo,
        match s.balance {
            Balance::RoundRobin => "roundrobin",
            Balance::LeastConn => "leastconn",
            Balance::Source => "source",
            Balance::First => "first",
        },
    );
    r
}

/// HAProxy's status of a checked server: `UP`, `DOWN`, and while a transition is under
/// way `UP 1/3` (one failure of the three that take it down) or `DOWN 1/2`.
fn checked_status(s: &Server, health: u32) -> String {
    let (rise, fall) = (s.rise_fall.0.max(1), s.rise_fall.1.max(1));
    if s.is_up() {
        let failures = (rise + fall - 1).saturating_sub(health);
        if failures > 0 {
            return format!("UP {failures}/{fall}");
        }
        "UP".into()
    } else if health > 0 {
        format!("DOWN {health}/{rise}")
    } else {
        "DOWN".into()
    }
}

/// A server's row; `be` is its backend.
pub fn server(be: &Backend, s: &Server, ids: Ids, now: u64) -> Row {
    let http = be.settings.mode == Mode::Http;
    let c = &s.counters;
    let mut r = Row::new(Kind::Server, &be.name, &s.name, ids);
    traffic(&mut r, c, now, http);
    forwarding(&mut r, c, now);
    r.set(Col::Qcur, s.queued());
    r.set(Col::Scur, s.active());
    r.set(Col::Slim, (s.maxconn() > 0).then(|| s.maxconn()));
    r.set(Col::Weight, s.weight);
    r.set(Col::Uweight, s.weight);
    r.set(Col::Act, u32::from(!s.backup));
    r.set(Col::Bck, u32::from(s.backup));
    r.set(Col::Lastchg, secs(s.since_change_ms(now)));
    r.set(
        Col::Qlimit,
        (s.queue_max_configured() > 0).then(|| s.queue_max_configured()),
    );
    r.set(Col::Addr, s.addr.to_string());
    r.set(Col::Mode, mode_name(be.settings.mode));
    let idle = s.idle_count();
    r.set(Col::SrvIcur, idle);
    // Empty for `pool-max-conn -1` (no limit of its own).
    if let Ok(limit) = u64::try_from(s.pool.limit()) {
        r.set(Col::SrcIlim, limit);
    }
    // Pooled connections have all carried a request: HAProxy calls them safe to reuse.
    r.set(Col::IdleConnCur, 0u64);
    r.set(Col::SafeConnCur, idle);
    r.set(Col::UsedConnCur, s.active());
    let state = s.check.get().map(|rx| rx.borrow().clone());
    match state {
        Some(h) if s.is_checked() => {
            r.set(Col::Status, checked_status(s, h.health));
            r.set(Col::Chkfail, h.failed_while_up);
            r.set(Col::Chkdown, h.downs);
            r.set(Col::Downtime, secs(s.downtime_ms(now)));
            r.set(Col::CheckRise, s.rise_fall.0);
            r.set(Col::CheckFall, s.rise_fall.1);
            r.set(Col::CheckHealth, h.health);
            if let Some((last, _)) = &h.last {
                r.set(Col::CheckStatus, last.status.code());
                r.set(Col::CheckCode, last.code.map(|c| c.unsigned_abs()));
                let ms = u64::try_from(last.duration.as_millis()).unwrap_or(u64::MAX);
                r.set(Col::CheckDuration, ms);
                r.set(Col::LastChk, last.info.clone());
                r.set(Col::CheckDesc, last.status.description());
            }
        }
        _ => r.set(Col::Status, s.status()),
    }
    r
}
