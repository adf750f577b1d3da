//! `http-request use-service prometheus-exporter`: the statistics rows in Prometheus text
//! format under the names of HAProxy's built-in exporter (2.6), so dashboards and alerts
//! written for it work unchanged. Each metric is a CSV column; as HAProxy does, a row whose
//! column is empty has no sample, and the objects a metric exists for are HAProxy's.

use std::fmt::Write;

use super::fields::Col;
use super::rows::{Kind, Row};

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
const METRICS: &[Metric] = &[
    m!(
        Qcur,
        "current_queue",
        Gauge,
        B | S,
        "Requests waiting for a server."
    ),
    m!(
        Qmax,
        "max_queue",
        Gauge,
        B | S,
        "Most requests ever waiting for a server."
    ),
    m!(
        Scur,
        "current_sessions",
        Gauge,
        F | B | S,
        "Sessions open now."
    ),
    m!(
        Smax,
        "max_sessions",
        Gauge,
        F | B | S,
        "Most sessions ever open at once."
    ),
    m!(
        Slim,
        "limit_sessions",
        Gauge,
        F | B | S,
        "Configured session limit (maxconn)."
    ),
    m!(
        Stot,
        "sessions_total",
        Counter,
        F | B | S,
        "Sessions since start."
    ),
    m!(
        Bin,
        "bytes_in_total",
        Counter,
        F | B | S,
        "Bytes received from clients."
    ),
    m!(
        Bout,
        "bytes_out_total",
        Counter,
        F | B | S,
        "Bytes sent to clients."
    ),
    m!(
        Dreq,
        "requests_denied_total",
        Counter,
        F | B,
        "Requests denied by rules."
    ),
    m!(
        Dresp,
        "responses_denied_total",
        Counter,
        F | B | S,
        "Responses denied by rules."
    ),
    m!(
        Ereq,
        "request_errors_total",
        Counter,
        F,
        "Invalid or unfinished requests."
    ),
    m!(
        Econ,
        "connection_errors_total",
        Counter,
        B | S,
        "Failed connections to servers."
    ),
    m!(
        Eresp,
        "response_errors_total",
        Counter,
        B | S,
        "Invalid, late or missing responses."
    ),
    m!(
        Wretr,
        "retry_warnings_total",
        Counter,
        B | S,
        "Connection retries."
    ),
    m!(
        Wredis,
        "redispatch_warnings_total",
        Counter,
        B | S,
        "Retries on another server."
    ),
    m!(
        Status,
        "status",
        Gauge,
        F | B,
        States(PROXY_STATES),
        "Whether the proxy is UP."
    ),
    m!(
        Status,
        "status",
        Gauge,
        S,
        States(SERVER_STATES),
        "The server's state."
    ),
    m!(Weight, "weight", Gauge, B | S, "Effective weight."),
    m!(Act, "active_servers", Gauge, B, "Active servers up."),
    m!(Bck, "backup_servers", Gauge, B, "Backup servers up."),
    m!(
        Chkfail,
        "check_failures_total",
        Counter,
        S,
        "Failed checks while UP."
    ),
    m!(
        Chkdown,
        "check_up_down_total",
        Counter,
        B | S,
        "UP to DOWN transitions."
    ),
    m!(
        Lastchg,
        "check_last_change_seconds",
        Gauge,
        B | S,
        "Seconds since the last UP/DOWN change."
    ),
    m!(
        Downtime,
        "downtime_seconds_total",
        Counter,
        B | S,
        "Seconds spent DOWN."
    ),
    m!(
        Qlimit,
        "queue_limit",
        Gauge,
        S,
        "Configured queue limit (maxqueue)."
    ),
    m!(
        Throttle,
        "current_throttle",
        Gauge,
        S,
        "Slow-start throttle, in percent."
    ),
    m!(
        Lbtot,
        "loadbalanced_total",
        Counter,
        B | S,
        "Times a server was chosen."
    ),
    m!(
        RateLim,
        "limit_session_rate",
        Gauge,
        F,
        "Configured session rate limit."
    ),
    m!(
        RateMax,
        "max_session_rate",
        Gauge,
        F | B | S,
        "Highest sessions per second."
    ),
    m!(
        CheckStatus,
        "check_status",
        Gauge,
        S,
        States(CHECK_STATES),
        "Result of the last check."
    ),
    m!(
        CheckCode,
        "check_code",
        Gauge,
        S,
        "Layer 7 code of the last check."
    ),
    m!(
        CheckDuration,
        "check_duration_seconds",
        Gauge,
        S,
        Millis,
        "Duration of the last check."
    ),
    m!(
        ReqRateMax,
        "http_requests_rate_max",
        Gauge,
        F,
        "Highest HTTP requests per second."
    ),
    m!(
        ReqTot,
        "http_requests_total",
        Counter,
        F | B,
        "HTTP requests."
    ),
    m!(
        CliAbrt,
        "client_aborts_total",
        Counter,
        B | S,
        "Transfers aborted by the client."
    ),
    m!(
        SrvAbrt,
        "server_aborts_total",
        Counter,
        B | S,
        "Transfers aborted by the server."
    ),
    m!(
        CompIn,
        "http_comp_bytes_in_total",
        Counter,
        F | B,
        "Bytes fed to the compressor."
    ),
    m!(
        CompOut,
        "http_comp_bytes_out_total",
        Counter,
        F | B,
        "Bytes out of the compressor."
    ),
    m!(
        CompByp,
        "http_comp_bytes_bypassed_total",
        Counter,
        F | B,
        "Bytes that bypassed the compressor."
    ),
    m!(
        CompRsp,
        "http_comp_responses_total",
        Counter,
        F | B,
        "Compressed responses."
    ),
    m!(
        Lastsess,
        "last_session_seconds",
        Gauge,
        B | S,
        "Seconds since the last session."
    ),
    m!(
        Qtime,
        "queue_time_average_seconds",
        Gauge,
        B | S,
        Millis,
        "Average time in queue (last 1024 requests)."
    ),
    m!(
        Ctime,
        "connect_time_average_seconds",
        Gauge,
        B | S,
        Millis,
        "Average connect time (last 1024 requests)."
    ),
    m!(
        Rtime,
        "response_time_average_seconds",
        Gauge,
        B | S,
        Millis,
        "Average response time (last 1024 requests)."
    ),
    m!(
        Ttime,
        "total_time_average_seconds",
        Gauge,
        B | S,
        Millis,
        "Average total time (last 1024 requests)."
    ),
    m!(
        ConnRateMax,
        "connections_rate_max",
        Gauge,
        F,
        "Highest connections per second."
    ),
    m!(
        ConnTot,
        "connections_total",
        Counter,
        F,
        "Connections accepted."
    ),
    m!(
        Intercepted,
        "intercepted_requests_total",
        Counter,
        F,
        "Requests answered by the proxy itself."
    ),
    m!(
        Dcon,
        "denied_connections_total",
        Counter,
        F,
        "Connections denied by tcp-request connection rules."
    ),
    m!(
        Dses,
        "denied_sessions_total",
        Counter,
        F,
        "Sessions denied by tcp-request session rules."
    ),
    m!(
        Wrew,
        "failed_header_rewriting_total",
        Counter,
        F | B | S,
        "Failed header rewrites."
    ),
    m!(
        Connect,
        "connection_attempts_total",
        Counter,
        B | S,
        "Connections opened to servers."
    ),
    m!(
        Reuse,
        "connection_reuses_total",
        Counter,
        B | S,
        "Idle server connections reused."
    ),
    m!(
        CacheLookups,
        "http_cache_lookups_total",
        Counter,
        F | B,
        "Cache lookups."
    ),
    m!(
        CacheHits,
        "http_cache_hits_total",
        Counter,
        F | B,
        "Cache hits."
    ),
    m!(
        SrvIcur,
        "idle_connections_current",
        Gauge,
        S,
        "Idle connections to the server."
    ),
    m!(
        SrcIlim,
        "idle_connections_limit",
        Gauge,
        S,
        "Limit of idle connections to the server."
    ),
    m!(
        QtimeMax,
        "max_queue_time_seconds",
        Gauge,
        B | S,
        Millis,
        "Longest time in queue."
    ),
    m!(
        CtimeMax,
        "max_connect_time_seconds",
        Gauge,
        B | S,
        Millis,
        "Longest connect time."
    ),
    m!(
        RtimeMax,
        "max_response_time_seconds",
        Gauge,
        B | S,
        Millis,
        "Longest response time."
    ),
    m!(
        TtimeMax,
        "max_total_time_seconds",
        Gauge,
        B | S,
        Millis,
        "Longest total time."
    ),
    m!(
        Eint,
        "internal_errors_total",
        Counter,
        F | B | S,
        "Internal errors."
    ),
    m!(
        IdleConnCur,
        "unsafe_idle_connections_current",
        Gauge,
        S,
        "Idle connections not yet proven reusable."
    ),
    m!(
        SafeConnCur,
        "safe_idle_connections_current",
        Gauge,
        S,
        "Idle connections safe to reuse."
    ),
    m!(
        UsedConnCur,
        "used_connections_current",
        Gauge,
        S,
        "Connections in use."
    ),
    m!(
        NeedConnEst,
        "need_connections_current",
        Gauge,
        S,
        "Estimated connections needed."
    ),
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

/// `proxy="..."` and, for servers, `server="..."`.
fn labels(out: &mut String, r: &Row) {
    out.push_str("proxy=\"");
    escape(out, r.get(Col::Pxname).text().unwrap_or_default());
    out.push('"');
    if r.kind == Kind::Server {
        out.push_str(",server=\"");
        escape(out, r.get(Col::Svname).text().unwrap_or_default());
        out.push('"');
    }
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

fn header(out: &mut String, name: &str, help: &str, kind: Type) {
    let t = match kind {
        Type::Gauge => "gauge",
        Type::Counter => "counter",
    };
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {t}");
}

/// Writes the samples of one metric for the rows of one kind.
fn samples(out: &mut String, rows: &[&Row], m: &Metric, prefix: &str) {
    let name = format!("haproxy_{prefix}_{}", m.name);
    let mut headed = false;
    for r in rows {
        let cell = r.get(m.col);
        if *cell == super::rows::Cell::Empty {
            continue;
        }
        if !headed {
            header(out, &name, m.help, m.kind);
            headed = true;
        }
        match m.shape {
            Shape::States(words) => {
                let now = state_word(cell.text().unwrap_or_default());
                for w in words {
                    out.push_str(&name);
                    out.push('{');
                    labels(out, r);
                    let _ = writeln!(out, ",state=\"{w}\"}} {}", u8::from(*w == now));
                }
            }
            Shape::Plain | Shape::Millis => {
                let Some(v) = cell.number() else { continue };
                let v = if m.shape == Shape::Millis {
                    v / 1000.0
                } else {
                    v
                };
                out.push_str(&name);
                out.push('{');
                labels(out, r);
                let _ = writeln!(out, "}} {v}");
            }
        }
    }
}

/// `http_responses_total{code="2xx"}`, after `max_session_rate` as HAProxy orders it.
fn responses(out: &mut String, rows: &[&Row], prefix: &str) {
    let name = format!("haproxy_{prefix}_http_responses_total");
    let mut headed = false;
    for (col, code) in CODES {
        for r in rows {
            let Some(v) = r.get(col).number() else {
                continue;
            };
            if !headed {
                header(out, &name, "HTTP responses by status class.", Type::Counter);
                headed = true;
            }
            out.push_str(&name);
            out.push('{');
            labels(out, r);
            let _ = writeln!(out, ",code=\"{code}\"}} {v}");
        }
    }
}

/// The frontend, backend and server metrics of `rows`.
pub fn proxies(out: &mut String, rows: &[Row]) {
    for kind in [Kind::Frontend, Kind::Backend, Kind::Server] {
        let (bit, prefix) = scope_of(kind);
        let of_kind: Vec<&Row> = rows.iter().filter(|r| r.kind == kind).collect();
        for m in METRICS.iter().filter(|m| m.scope & bit != 0) {
            samples(out, &of_kind, m, prefix);
            if m.col == Col::CheckDuration {
                // Servers: responses follow the check columns.
                responses(out, &of_kind, prefix);
            } else if m.col == Col::RateMax && kind != Kind::Server {
                responses(out, &of_kind, prefix);
            }
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

/// The `haproxy_process_*` metrics.
pub fn process(out: &mut String, p: &Process) {
    let gauges: [(&str, Option<u64>, &str); 11] = [
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
    for (name, v, help) in gauges {
        if let Some(v) = v {
            let name = format!("haproxy_process_{name}");
            header(out, &name, help, Type::Gauge);
            let _ = writeln!(out, "{name} {v}");
        }
    }
    let counters = [
        (
            "connections_total",
            p.connections_total,
            "Client connections accepted.",
        ),
        (
            "requests_total",
            p.requests_total,
            "HTTP requests received.",
        ),
        (
            "ssl_connections_total",
            p.ssl_connections_total,
            "TLS handshakes completed.",
        ),
    ];
    for (name, v, help) in counters {
        let name = format!("haproxy_process_{name}");
        header(out, &name, help, Type::Counter);
        let _ = writeln!(out, "{name} {v}");
    }
    let name = "haproxy_process_build_info";
    header(out, name, "Build information.", Type::Gauge);
    let _ = writeln!(
        out,
        "{name}{{version=\"lbproxy {}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
}
