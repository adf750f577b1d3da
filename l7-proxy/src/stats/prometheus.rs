//! `http-request use-service prometheus-exporter`: the statistics rows in Prometheus text
//! format under the names of HAProxy's built-in exporter (2.6), so dashboards and alerts
//! written for it work unchanged. Each metric is a CSV column; as HAProxy does, a row whose
//! column is empty has no sample, and the objects a metric exists for are HAProxy's.

use std::fmt::Write;

use super::fields::Col;
use super::rows::{Cell, Kind, Row};

/// The objects a metric exists for.
const F: u8 = 1;
const B: u8 = 2;
const S: u8 = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    Gauge,
    Counter,
}

/// How a column becomes samples.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// The value as it is.
    Plain,
    /// Milliseconds, exported in seconds.
    Millis,
    /// A word, exported as one sample per possible word with `state="..."`, 1 for the
    /// current one.
    States(&'static [&'static str]),
}

struct Metric {
    col: Col,
    /// The name after `haproxy_frontend_` / `_backend_` / `_server_`.
    name: &'static str,
    kind: Type,
    scope: u8,
    shape: Shape,
    help: &'static str,
}

const PROXY_STATES: &[&str] = &["DOWN", "UP"];
const SERVER_STATES: &[&str] = &["DOWN", "UP", "MAINT", "DRAIN", "NOLB"];
const CHECK_STATES: &[&str] = &[
    "HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7TOUT", "L7RSP",
    "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK",
];

macro_rules! m {
    ($col:ident, $name:literal, $kind:ident, $scope:expr, $help:literal) => {
        m!($col, $name, $kind, $scope, Plain, $help)
    };
    ($col:ident, $name:literal, $kind:ident, $scope:expr, $shape:expr, $help:literal) => {
        Metric {
            col: Col::$col,
            name: $name,
            kind: Type::$kind,
            scope: $scope,
            shape: {
                #[allow(unused_imports)]
                use Shape::*;
                $shape
            },
            help: $help,
        }
    };
}

/// The metrics, in column order (the order HAProxy writes them in).
#[rustfmt::skip]
const METRICS: &[Metric] = &[
    m!(Qcur, "current_queue", Gauge, B | S, "Requests waiting for a server."),
    m!(Qmax, "max_queue", Gauge, B | S, "Most requests ever waiting for a server."),
    m!(Scur, "current_sessions", Gauge, F | B | S, "Sessions open now."),
    m!(Smax, "max_sessions", Gauge, F | B | S, "Most sessions ever open at once."),
    m!(Slim, "limit_sessions", Gauge, F | B | S, "Configured session limit (maxconn)."),
    m!(Stot, "sessions_total", Counter, F | B | S, "Sessions since start."),
    m!(Bin, "bytes_in_total", Counter, F | B | S, "Bytes received from clients."),
    m!(Bout, "bytes_out_total", Counter, F | B | S, "Bytes sent to clients."),
    m!(Dreq, "requests_denied_total", Counter, F | B, "Requests denied by rules."),
    m!(Dresp, "responses_denied_total", Counter, F | B | S, "Responses denied by rules."),
    m!(Ereq, "request_errors_total", Counter, F, "Invalid or unfinished requests."),
    m!(Econ, "connection_errors_total", Counter, B | S, "Failed connections to servers."),
    m!(Eresp, "response_errors_total", Counter, B | S, "Invalid, late or missing responses."),
    m!(Wretr, "retry_warnings_total", Counter, B | S, "Connection retries."),
    m!(Wredis, "redispatch_warnings_total", Counter, B | S, "Retries on another server."),
    m!(Status, "status", Gauge, F | B, States(PROXY_STATES), "Whether the proxy is UP."),
    m!(Status, "status", Gauge, S, States(SERVER_STATES), "The server's state."),
    m!(Weight, "weight", Gauge, B | S, "Effective weight."),
    m!(Act, "active_servers", Gauge, B, "Active servers up."),
    m!(Bck, "backup_servers", Gauge, B, "Backup servers up."),
    m!(Chkfail, "check_failures_total", Counter, S, "Failed checks while UP."),
    m!(Chkdown, "check_up_down_total", Counter, B | S, "UP to DOWN transitions."),
    m!(Lastchg, "check_last_change_seconds", Gauge, B | S, "Seconds since the last UP/DOWN change."),
    m!(Downtime, "downtime_seconds_total", Counter, B | S, "Seconds spent DOWN."),
    m!(Qlimit, "queue_limit", Gauge, S, "Configured queue limit (maxqueue)."),
    m!(Throttle, "current_throttle", Gauge, S, "Slow-start throttle, in percent."),
    m!(Lbtot, "loadbalanced_total", Counter, B | S, "Times a server was chosen."),
    m!(RateLim, "limit_session_rate", Gauge, F, "Configured session rate limit."),
    m!(RateMax, "max_session_rate", Gauge, F | B | S, "Highest sessions per second."),
    m!(CheckStatus, "check_status", Gauge, S, States(CHECK_STATES), "Result of the last check."),
    m!(CheckCode, "check_code", Gauge, S, "Layer 7 code of the last check."),
    m!(CheckDuration, "check_duration_seconds", Gauge, S, Millis, "Duration of the last check."),
    m!(ReqRateMax, "http_requests_rate_max", Gauge, F, "Highest HTTP requests per second."),
    m!(ReqTot, "http_requests_total", Counter, F | B, "HTTP requests."),
    m!(CliAbrt, "client_aborts_total", Counter, B | S, "Transfers aborted by the client."),
    m!(SrvAbrt, "server_aborts_total", Counter, B | S, "Transfers aborted by the server."),
    m!(CompIn, "http_comp_bytes_in_total", Counter, F | B, "Bytes fed to the compressor."),
    m!(CompOut, "http_comp_bytes_out_total", Counter, F | B, "Bytes out of the compressor."),
    m!(CompByp, "http_comp_bytes_bypassed_total", Counter, F | B, "Bytes that bypassed the compressor."),
    m!(CompRsp, "http_comp_responses_total", Counter, F | B, "Compressed responses."),
    m!(Lastsess, "last_session_seconds", Gauge, B | S, "Seconds since the last session."),
    m!(Qtime, "queue_time_average_seconds", Gauge, B | S, Millis, "Average time in queue (last 1024 requests)."),
    m!(Ctime, "connect_time_average_seconds", Gauge, B | S, Millis, "Average connect time (last 1024 requests)."),
    m!(Rtime, "response_time_average_seconds", Gauge, B | S, Millis, "Average response time (last 1024 requests)."),
    m!(Ttime, "total_time_average_seconds", Gauge, B | S, Millis, "Average total time (last 1024 requests)."),
    m!(ConnRateMax, "connections_rate_max", Gauge, F, "Highest connections per second."),
    m!(ConnTot, "connections_total", Counter, F, "Connections accepted."),
    m!(Intercepted, "intercepted_requests_total", Counter, F, "Requests answered by the proxy itself."),
    m!(Dcon, "denied_connections_total", Counter, F, "Connections denied by tcp-request connection rules."),
    m!(Dses, "denied_sessions_total", Counter, F, "Sessions denied by tcp-request session rules."),
    m!(Wrew, "failed_header_rewriting_total", Counter, F | B | S, "Failed header rewrites."),
    m!(Connect, "connection_attempts_total", Counter, B | S, "Connections opened to servers."),
    m!(Reuse, "connection_reuses_total", Counter, B | S, "Idle server connections reused."),
    m!(CacheLookups, "http_cache_lookups_total", Counter, F | B, "Cache lookups."),
    m!(CacheHits, "http_cache_hits_total", Counter, F | B, "Cache hits."),
    m!(SrvIcur, "idle_connections_current", Gauge, S, "Idle connections to the server."),
    m!(SrcIlim, "idle_connections_limit", Gauge, S, "Limit of idle connections to the server."),
    m!(QtimeMax, "max_queue_time_seconds", Gauge, B | S, Millis, "Longest time in queue."),
    m!(CtimeMax, "max_connect_time_seconds", Gauge, B | S, Millis, "Longest connect time."),
    m!(RtimeMax, "max_response_time_seconds", Gauge, B | S, Millis, "Longest response time."),
    m!(TtimeMax, "max_total_time_seconds", Gauge, B | S, Millis, "Longest total time."),
    m!(Eint, "internal_errors_total", Counter, F | B | S, "Internal errors."),
    m!(IdleConnCur, "unsafe_idle_connections_current", Gauge, S, "Idle connections not yet proven reusable."),
    m!(SafeConnCur, "safe_idle_connections_current", Gauge, S, "Idle connections safe to reuse."),
    m!(UsedConnCur, "used_connections_current", Gauge, S, "Connections in use."),
    m!(NeedConnEst, "need_connections_current", Gauge, S, "Estimated connections needed."),
    m!(Uweight, "uweight", Gauge, B | S, "Configured weight."),
];

/// The HTTP status classes of `http_responses_total{code=...}`, with their columns.
const CODES: [(Col, &str); 6] = [
    (Col::Hrsp1xx, "1xx"),
    (Col::Hrsp2xx, "2xx"),
    (Col::Hrsp3xx, "3xx"),
    (Col::Hrsp4xx, "4xx"),
    (Col::Hrsp5xx, "5xx"),
    (Col::HrspOther, "other"),
];

fn scope_of(kind: Kind) -> (u8, &'static str) {
    match kind {
        Kind::Frontend => (F, "frontend"),
        Kind::Backend => (B, "backend"),
        Kind::Server => (S, "server"),
    }
}

/// The state word a status cell stands for: `UP 1/3` is UP, `no check` is UP, `OPEN` is
/// UP (HAProxy's mapping).
fn state_word(cell: &str) -> &str {
    let first = cell.split(' ').next().unwrap_or_default();
    match first {
        "OPEN" | "no" => "UP",
        "STOP" => "DOWN",
        w => w,
    }
}

/// One sample of a metric family.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    /// The family (`haproxy_server_status`).
    pub name: &'a str,
    /// Its help text.
    pub help: &'static str,
    /// A counter (else a gauge).
    pub counter: bool,
    /// Label pairs: `proxy`, then `server` for servers, then `state` or `code`.
    pub labels: &'a [(&'static str, &'a str)],
    /// The value.
    pub value: f64,
}

/// Calls `f` with each sample of the proxies' metrics, family by family.
fn proxy_samples(rows: &[Row], f: &mut impl FnMut(&Sample<'_>)) {
    for kind in [Kind::Frontend, Kind::Backend, Kind::Server] {
        let (bit, prefix) = scope_of(kind);
        let of_kind: Vec<&Row> = rows.iter().filter(|r| r.kind == kind).collect();
        for m in METRICS.iter().filter(|m| m.scope & bit != 0) {
            metric(&of_kind, m, prefix, f);
            // HAProxy writes the responses after the session rates (proxies) or after the
            // check columns (servers).
            let after = if kind == Kind::Server {
                Col::CheckDuration
            } else {
                Col::RateMax
            };
            if m.col == after {
                responses(&of_kind, prefix, f);
            }
        }
    }
}

/// The samples of one metric for the rows of one kind; none for an empty cell.
fn metric(rows: &[&Row], m: &Metric, prefix: &str, f: &mut impl FnMut(&Sample<'_>)) {
    let name = format!("haproxy_{prefix}_{}", m.name);
    for r in rows {
        let cell = r.get(m.col);
        let proxy = r.get(Col::Pxname).text().unwrap_or_default();
        let server = r.get(Col::Svname).text().unwrap_or_default();
        let mut labels = vec![("proxy", proxy)];
        if r.kind == Kind::Server {
            labels.push(("server", server));
        }
        let mut emit = |labels: &[(&'static str, &str)], value: f64| {
            f(&Sample {
                name: &name,
                help: m.help,
                counter: m.kind == Type::Counter,
                labels,
                value,
            })
        };
        match (m.shape, cell) {
            (_, Cell::Empty) => {}
            (Shape::States(words), _) => {
                let now = state_word(cell.text().unwrap_or_default());
                for w in words {
                    labels.push(("state", w));
                    emit(&labels, f64::from(u8::from(*w == now)));
                    labels.pop();
                }
            }
            (Shape::Plain | Shape::Millis, _) => {
                let Some(v) = cell.number() else { continue };
                let v = if m.shape == Shape::Millis {
                    v / 1000.0
                } else {
                    v
                };
                emit(&labels, v);
            }
        }
    }
}

/// `http_responses_total{code="2xx"}`, class by class.
fn responses(rows: &[&Row], prefix: &str, f: &mut impl FnMut(&Sample<'_>)) {
    let name = format!("haproxy_{prefix}_http_responses_total");
    for (col, code) in CODES {
        for r in rows {
            let Some(value) = r.get(col).number() else {
                continue;
            };
            let proxy = ("proxy", r.get(Col::Pxname).text().unwrap_or_default());
            let server = ("server", r.get(Col::Svname).text().unwrap_or_default());
            let with_server = [proxy, server, ("code", code)];
            let without = [proxy, ("code", code)];
            f(&Sample {
                name: &name,
                help: "HTTP responses by status class.",
                counter: true,
                labels: if r.kind == Kind::Server {
                    &with_server
                } else {
                    &without
                },
                value,
            });
        }
    }
}

/// Process-wide values for `haproxy_process_*`.
#[derive(Debug, Clone, Default)]
pub struct Process {
    /// Worker threads.
    pub threads: usize,
    /// Seconds since the Unix epoch when the process started.
    pub start_time: u64,
    /// Seconds since start.
    pub uptime: u64,
    /// Open file limit.
    pub max_fds: Option<u64>,
    /// `maxconn` of the `global` section, if set.
    pub max_connections: Option<u64>,
    /// Client connections open now.
    pub current_connections: u64,
    /// Client connections accepted.
    pub connections_total: u64,
    /// HTTP requests received.
    pub requests_total: u64,
    /// TLS handshakes completed by frontends.
    pub ssl_connections_total: u64,
    /// Listening sockets.
    pub listeners: u64,
    /// Whether a soft stop is under way.
    pub stopping: bool,
}

/// Calls `f` with each `haproxy_process_*` sample.
fn process_samples(p: &Process, f: &mut impl FnMut(&Sample<'_>)) {
    let gauges: [(&str, Option<u64>, &'static str); 11] = [
        ("nbthread", Some(p.threads as u64), "Worker threads."),
        ("nbproc", Some(1), "Processes (always 1)."),
        (
            "relative_process_id",
            Some(1),
            "This process's number (always 1).",
        ),
        ("uptime_seconds", Some(p.uptime), "Seconds since start."),
        ("max_fds", p.max_fds, "Open file limit."),
        ("max_connections", p.max_connections, "Global maxconn."),
        (
            "current_connections",
            Some(p.current_connections),
            "Client connections open.",
        ),
        ("listeners", Some(p.listeners), "Listening sockets."),
        (
            "stopping",
            Some(u64::from(p.stopping)),
            "1 while a soft stop is under way.",
        ),
        (
            "start_time_seconds",
            Some(p.start_time),
            "Start time, seconds since the epoch.",
        ),
        (
            "jobs",
            Some(p.current_connections + p.listeners),
            "Connections and listeners.",
        ),
    ];
    let counters: [(&str, Option<u64>, &'static str); 3] = [
        (
            "connections_total",
            Some(p.connections_total),
            "Client connections accepted.",
        ),
        (
            "requests_total",
            Some(p.requests_total),
            "HTTP requests received.",
        ),
        (
            "ssl_connections_total",
            Some(p.ssl_connections_total),
            "TLS handshakes completed.",
        ),
    ];
    let all = gauges
        .iter()
        .map(|g| (g, false))
        .chain(counters.iter().map(|c| (c, true)));
    for ((name, value, help), counter) in all {
        let Some(v) = value else { continue };
        f(&Sample {
            name: &format!("haproxy_process_{name}"),
            help,
            counter,
            labels: &[],
            value: *v as f64,
        });
    }
    let version = format!("lbproxy {}", env!("CARGO_PKG_VERSION"));
    f(&Sample {
        name: "haproxy_process_build_info",
        help: "Build information.",
        counter: false,
        labels: &[("version", &version)],
        value: 1.0,
    });
}

/// Calls `f` with every sample: the process's, then the proxies' (the exposition order).
pub fn for_each_sample(p: &Process, rows: &[Row], mut f: impl FnMut(&Sample<'_>)) {
    process_samples(p, &mut f);
    proxy_samples(rows, &mut f);
}

/// Escapes a label value (Prometheus text format: backslash, quote, newline).
fn escape(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The Prometheus text exposition (version 0.0.4) of the process and `rows`.
pub fn render(p: &Process, rows: &[Row]) -> String {
    let mut out = String::with_capacity(8192 + rows.len() * 4096);
    let mut family = String::new();
    for_each_sample(p, rows, |s| {
        if s.name != family {
            family = s.name.to_string();
            let t = if s.counter { "counter" } else { "gauge" };
            let _ = writeln!(out, "# HELP {} {}\n# TYPE {} {t}", s.name, s.help, s.name);
        }
        out.push_str(s.name);
        if !s.labels.is_empty() {
            out.push('{');
            for (i, (k, v)) in s.labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(k);
                out.push_str("=\"");
                escape(&mut out, v);
                out.push('"');
            }
            out.push('}');
        }
        let _ = writeln!(out, " {}", s.value);
    });
    out
}
