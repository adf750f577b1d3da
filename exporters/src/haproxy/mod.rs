//! HAProxy's statistics as prometheus/haproxy_exporter publishes them: `haproxy_up`,
//! `haproxy_frontend_*{frontend}`, `haproxy_backend_*{backend}`,
//! `haproxy_server_*{backend,server}`, with that exporter's names, help texts, types and
//! units (times in seconds), so dashboards built for it keep working. Read from the CSV of
//! HAProxy or lbproxy ([`csv`]).
//!
//! One deliberate difference: `haproxy_server_up` is 1 for every state in which a server
//! takes traffic or is being drained gracefully (`UP`, `UP n/m` going down, `NOLB`,
//! `DRAIN`, `no check`), where the Go exporter knows only `UP 1/3` and `UP 2/3` of the
//! transitional states and counts `NOLB` as down.

pub mod csv;

use crate::text::{Exposition, Kind};
use csv::{CsvError, ProxyKind};

/// How a column's text becomes a sample value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// An integer, as it is.
    Count,
    /// Milliseconds, published in seconds.
    Millis,
    /// A status word: 1 when serving (see [`status_up`]), else 0.
    Status,
}

/// One published family read from one column for one kind of row.
#[derive(Debug)]
struct Column {
    proxy: ProxyKind,
    family: &'static str,
    column: &'static str,
    kind: Kind,
    unit: Unit,
    help: &'static str,
}

const fn col(
    proxy: ProxyKind,
    family: &'static str,
    column: &'static str,
    kind: Kind,
    help: &'static str,
) -> Column {
    Column {
        proxy,
        family,
        column,
        kind,
        unit: Unit::Count,
        help,
    }
}

const fn unit(mut c: Column, unit: Unit) -> Column {
    c.unit = unit;
    c
}

use Kind::{Counter as C, Gauge as G};
use ProxyKind::{Backend as BE, Frontend as FE, Server as SV};

const HTTP_RESPONSES: &str = "Total of HTTP responses.";
const RESPONSE_CODES: [(&str, &str); 6] = [
    ("hrsp_1xx", "1xx"),
    ("hrsp_2xx", "2xx"),
    ("hrsp_3xx", "3xx"),
    ("hrsp_4xx", "4xx"),
    ("hrsp_5xx", "5xx"),
    ("hrsp_other", "other"),
];

/// The families haproxy_exporter 0.14 publishes by default, by the CSV column each comes
/// from (its help texts verbatim: dashboards and alerts show them).
const COLUMNS: &[Column] = &[
    col(FE, "haproxy_frontend_current_sessions", "scur", G, "Current number of active sessions."),
    col(FE, "haproxy_frontend_max_sessions", "smax", G, "Maximum observed number of active sessions."),
    col(FE, "haproxy_frontend_limit_sessions", "slim", G, "Configured session limit."),
    col(FE, "haproxy_frontend_sessions_total", "stot", C, "Total number of sessions."),
    col(FE, "haproxy_frontend_bytes_in_total", "bin", C, "Current total of incoming bytes."),
    col(FE, "haproxy_frontend_bytes_out_total", "bout", C, "Current total of outgoing bytes."),
    col(FE, "haproxy_frontend_requests_denied_total", "dreq", C, "Total of requests denied for security."),
    col(FE, "haproxy_frontend_request_errors_total", "ereq", C, "Total of request errors."),
    col(FE, "haproxy_frontend_current_session_rate", "rate", G, "Current number of sessions per second over last elapsed second."),
    col(FE, "haproxy_frontend_limit_session_rate", "rate_lim", G, "Configured limit on new sessions per second."),
    col(FE, "haproxy_frontend_max_session_rate", "rate_max", G, "Maximum observed number of sessions per second."),
    col(FE, "haproxy_frontend_http_requests_total", "req_tot", C, "Total HTTP requests."),
    col(FE, "haproxy_frontend_compressor_bytes_in_total", "comp_in", C, "Number of HTTP response bytes fed to the compressor"),
    col(FE, "haproxy_frontend_compressor_bytes_out_total", "comp_out", C, "Number of HTTP response bytes emitted by the compressor"),
    col(FE, "haproxy_frontend_compressor_bytes_bypassed_total", "comp_byp", C, "Number of bytes that bypassed the HTTP compressor"),
    col(FE, "haproxy_frontend_http_responses_compressed_total", "comp_rsp", C, "Number of HTTP responses that were compressed"),
    col(FE, "haproxy_frontend_connections_total", "conn_tot", C, "Total number of connections"),
    col(BE, "haproxy_backend_current_queue", "qcur", G, "Current number of queued requests not assigned to any server."),
    col(BE, "haproxy_backend_max_queue", "qmax", G, "Maximum observed number of queued requests not assigned to any server."),
    col(BE, "haproxy_backend_current_sessions", "scur", G, "Current number of active sessions."),
    col(BE, "haproxy_backend_max_sessions", "smax", G, "Maximum observed number of active sessions."),
    col(BE, "haproxy_backend_limit_sessions", "slim", G, "Configured session limit."),
    col(BE, "haproxy_backend_sessions_total", "stot", C, "Total number of sessions."),
    col(BE, "haproxy_backend_bytes_in_total", "bin", C, "Current total of incoming bytes."),
    col(BE, "haproxy_backend_bytes_out_total", "bout", C, "Current total of outgoing bytes."),
    col(BE, "haproxy_backend_connection_errors_total", "econ", C, "Total of connection errors."),
    col(BE, "haproxy_backend_response_errors_total", "eresp", C, "Total of response errors."),
    col(BE, "haproxy_backend_retry_warnings_total", "wretr", C, "Total of retry warnings."),
    col(BE, "haproxy_backend_redispatch_warnings_total", "wredis", C, "Total of redispatch warnings."),
    unit(col(BE, "haproxy_backend_up", "status", G, "Current health status of the backend (1 = UP, 0 = DOWN)."), Unit::Status),
    col(BE, "haproxy_backend_weight", "weight", G, "Total weight of the servers in the backend."),
    col(BE, "haproxy_backend_current_server", "act", G, "Current number of active servers"),
    col(BE, "haproxy_backend_server_selected_total", "lbtot", C, "Total number of times a server was selected, either for new sessions, or when re-dispatching."),
    col(BE, "haproxy_backend_current_session_rate", "rate", G, "Current number of sessions per second over last elapsed second."),
    col(BE, "haproxy_backend_max_session_rate", "rate_max", G, "Maximum number of sessions per second."),
    col(BE, "haproxy_backend_client_aborts_total", "cli_abrt", C, "Total number of data transfers aborted by the client."),
    col(BE, "haproxy_backend_server_aborts_total", "srv_abrt", C, "Total number of data transfers aborted by the server."),
    col(BE, "haproxy_backend_compressor_bytes_in_total", "comp_in", C, "Number of HTTP response bytes fed to the compressor"),
    col(BE, "haproxy_backend_compressor_bytes_out_total", "comp_out", C, "Number of HTTP response bytes emitted by the compressor"),
    col(BE, "haproxy_backend_compressor_bytes_bypassed_total", "comp_byp", C, "Number of bytes that bypassed the HTTP compressor"),
    col(BE, "haproxy_backend_http_responses_compressed_total", "comp_rsp", C, "Number of HTTP responses that were compressed"),
    unit(col(BE, "haproxy_backend_http_queue_time_average_seconds", "qtime", G, "Avg. HTTP queue time for last 1024 successful connections."), Unit::Millis),
    unit(col(BE, "haproxy_backend_http_connect_time_average_seconds", "ctime", G, "Avg. HTTP connect time for last 1024 successful connections."), Unit::Millis),
    unit(col(BE, "haproxy_backend_http_response_time_average_seconds", "rtime", G, "Avg. HTTP response time for last 1024 successful connections."), Unit::Millis),
    unit(col(BE, "haproxy_backend_http_total_time_average_seconds", "ttime", G, "Avg. HTTP total time for last 1024 successful connections."), Unit::Millis),
    col(SV, "haproxy_server_current_queue", "qcur", G, "Current number of queued requests assigned to this server."),
    col(SV, "haproxy_server_max_queue", "qmax", G, "Maximum observed number of queued requests assigned to this server."),
    col(SV, "haproxy_server_current_sessions", "scur", G, "Current number of active sessions."),
    col(SV, "haproxy_server_max_sessions", "smax", G, "Maximum observed number of active sessions."),
    col(SV, "haproxy_server_limit_sessions", "slim", G, "Configured session limit."),
    col(SV, "haproxy_server_sessions_total", "stot", C, "Total number of sessions."),
    col(SV, "haproxy_server_bytes_in_total", "bin", C, "Current total of incoming bytes."),
    col(SV, "haproxy_server_bytes_out_total", "bout", C, "Current total of outgoing bytes."),
    col(SV, "haproxy_server_connection_errors_total", "econ", C, "Total of connection errors."),
    col(SV, "haproxy_server_response_errors_total", "eresp", C, "Total of response errors."),
    col(SV, "haproxy_server_retry_warnings_total", "wretr", C, "Total of retry warnings."),
    col(SV, "haproxy_server_redispatch_warnings_total", "wredis", C, "Total of redispatch warnings."),
    unit(col(SV, "haproxy_server_up", "status", G, "Current health status of the server (1 = UP, 0 = DOWN)."), Unit::Status),
    col(SV, "haproxy_server_weight", "weight", G, "Current weight of the server."),
    col(SV, "haproxy_server_check_failures_total", "chkfail", C, "Total number of failed health checks."),
    col(SV, "haproxy_server_downtime_seconds_total", "downtime", C, "Total downtime in seconds."),
    col(SV, "haproxy_server_server_selected_total", "lbtot", C, "Total number of times a server was selected, either for new sessions, or when re-dispatching."),
    col(SV, "haproxy_server_current_session_rate", "rate", G, "Current number of sessions per second over last elapsed second."),
    col(SV, "haproxy_server_max_session_rate", "rate_max", G, "Maximum observed number of sessions per second."),
    unit(col(SV, "haproxy_server_check_duration_seconds", "check_duration", G, "Previously run health check duration, in seconds"), Unit::Millis),
    col(SV, "haproxy_server_client_aborts_total", "cli_abrt", C, "Total number of data transfers aborted by the client."),
    col(SV, "haproxy_server_server_aborts_total", "srv_abrt", C, "Total number of data transfers aborted by the server."),
    unit(col(SV, "haproxy_server_http_queue_time_average_seconds", "qtime", G, "Avg. HTTP queue time for last 1024 successful connections."), Unit::Millis),
    unit(col(SV, "haproxy_server_http_connect_time_average_seconds", "ctime", G, "Avg. HTTP connect time for last 1024 successful connections."), Unit::Millis),
    unit(col(SV, "haproxy_server_http_response_time_average_seconds", "rtime", G, "Avg. HTTP response time for last 1024 successful connections."), Unit::Millis),
    unit(col(SV, "haproxy_server_http_total_time_average_seconds", "ttime", G, "Avg. HTTP total time for last 1024 successful connections."), Unit::Millis),
];

/// The `http_responses_total{code}` family of each kind of row.
fn responses_family(proxy: ProxyKind) -> Option<&'static str> {
    match proxy {
        FE => Some("haproxy_frontend_http_responses_total"),
        BE => Some("haproxy_backend_http_responses_total"),
        SV => Some("haproxy_server_http_responses_total"),
        ProxyKind::Listener => None,
    }
}

/// `haproxy_up`'s name and help.
pub const UP: (&str, &str) = ("haproxy_up", "Was the last scrape of HAProxy successful.");

/// Whether a `status` field means the server (or backend) takes traffic or is drained
/// gracefully: `UP`, `UP n/m`, `NOLB`, `NOLB n/m`, `DRAIN`, `DRAIN (agent)`, `no check`;
/// not `DOWN`, `DOWN n/m`, `MAINT`, `MAINT (via ...)`, `MAINT (resolution)`.
pub fn status_up(status: &str) -> bool {
    let word = status.split(' ').next().unwrap_or("");
    matches!(word, "UP" | "NOLB" | "DRAIN") || status == "no check"
}

/// What [`export`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Rows read.
    pub rows: usize,
    /// Rows skipped and values that were not numbers (haproxy_exporter's
    /// `csv_parse_failures`).
    pub parse_failures: usize,
}

/// A column of [`COLUMNS`] found in a CSV, with its position there.
struct Found<'c> {
    spec: &'c Column,
    at: usize,
}

/// Adds the frontend, backend and server families of the stats CSV `text` to `out`, each
/// sample with `extra` labels too (the `socket` of a multi-URI exporter).
pub fn export(
    text: &str,
    out: &mut Exposition,
    extra: &[(&str, &str)],
) -> Result<ExportSummary, CsvError> {
    let header = csv::header(text)?;
    let mut found: Vec<Found<'_>> = Vec::new();
    for spec in COLUMNS {
        if let Some(at) = header.column(spec.column) {
            found.push(Found { spec, at });
        }
    }
    let codes: Vec<(usize, &str)> = RESPONSE_CODES
        .iter()
        .filter_map(|(c, code)| header.column(c).map(|at| (at, *code)))
        .collect();
    let mut failures = 0;
    let read = csv::for_each_row(text, &header, |row| {
        let Some(kind) = row.kind() else {
            failures += 1;
            return;
        };
        let mut labels: Vec<(&str, &str)> = Vec::with_capacity(4 + extra.len());
        match kind {
            FE => labels.push(("frontend", row.proxy())),
            BE => labels.push(("backend", row.proxy())),
            SV => labels.extend([("backend", row.proxy()), ("server", row.service())]),
            ProxyKind::Listener => return,
        }
        labels.extend_from_slice(extra);
        for f in found.iter().filter(|f| f.spec.proxy == kind) {
            let Some(text) = row.get(f.at) else { continue };
            match value(text, f.spec.unit) {
                Some(v) => out.sample(f.spec.family, f.spec.help, f.spec.kind, &labels, v),
                None => failures += 1,
            }
        }
        let Some(family) = responses_family(kind) else {
            return;
        };
        let plain = labels.len();
        for (at, code) in &codes {
            let Some(text) = row.get(*at) else { continue };
            let Some(v) = value(text, Unit::Count) else {
                failures += 1;
                continue;
            };
            labels.push(("code", code));
            out.sample(family, HTTP_RESPONSES, C, &labels, v);
            labels.truncate(plain);
        }
    });
    Ok(ExportSummary {
        rows: read.rows,
        parse_failures: failures + read.malformed,
    })
}

fn value(text: &str, unit: Unit) -> Option<f64> {
    match unit {
        Unit::Status => Some(if status_up(text) { 1.0 } else { 0.0 }),
        // Counters beyond 2^53 lose their last digits as f64, as in every exporter.
        Unit::Count => text.parse::<i64>().ok().map(|v| v as f64),
        Unit::Millis => text.parse::<f64>().ok().map(|v| v / 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_and_draining_states_are_up_the_others_down() {
        for up in [
            "UP",
            "UP 1/3",
            "UP 1/2",
            "NOLB",
            "NOLB 1/2",
            "DRAIN",
            "DRAIN (agent)",
            "no check",
        ] {
            assert!(status_up(up), "{up}");
        }
        for down in [
            "DOWN",
            "DOWN 1/2",
            "MAINT",
            "MAINT (via be/srv)",
            "MAINT (resolution)",
            "",
            "UPPER",
        ] {
            assert!(!status_up(down), "{down}");
        }
    }

    #[test]
    fn a_value_that_is_not_a_number_is_counted_and_skipped() {
        let text = "# pxname,svname,scur,status,type\nbe,web1,many,UP,2\nbe,BACKEND,3,UP,1\n";
        let mut out = Exposition::new();
        let summary = export(text, &mut out, &[]).expect("reads");
        assert_eq!(
            summary,
            ExportSummary {
                rows: 2,
                parse_failures: 1
            }
        );
        let text = out.render();
        assert!(!text.contains("haproxy_server_current_sessions"), "{text}");
        assert!(
            text.contains("haproxy_server_up{backend=\"be\",server=\"web1\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("haproxy_backend_current_sessions{backend=\"be\"} 3\n"),
            "{text}"
        );
    }
}
