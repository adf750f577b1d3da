//! Access log lines in HAProxy's `httplog` and `tcplog` formats.

use std::fmt::Write;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Syslog severity `emerg`: a backend has no server left.
pub const SEVERITY_EMERG: u8 = 0;
/// Syslog severity `alert`: a server went DOWN.
pub const SEVERITY_ALERT: u8 = 1;
/// Syslog severity `notice`: a server came UP.
pub const SEVERITY_NOTICE: u8 = 5;
/// Syslog severity `info`: access log lines.
pub const SEVERITY_INFO: u8 = 6;

/// The log sinks of one configuration: the global one, and one per distinct list of
/// targets that proxies name with their own `log` lines, so that proxies logging to the
/// same places share one socket.
#[derive(Debug)]
pub struct LogSinks {
    global_targets: Vec<crate::config::LogConfig>,
    global: std::sync::Arc<AccessLog>,
    own: Vec<(Vec<crate::config::LogConfig>, std::sync::Arc<AccessLog>)>,
}

impl LogSinks {
    /// Opens the global sink for the `global` section's `log` lines.
    pub fn new(global: &[crate::config::LogConfig]) -> LogSinks {
        LogSinks {
            global_targets: global.to_vec(),
            global: std::sync::Arc::new(AccessLog::new(global)),
            own: Vec::new(),
        }
    }

    /// The global sink.
    pub fn global(&self) -> &std::sync::Arc<AccessLog> {
        &self.global
    }

    /// The sink for a proxy: the global one when its lines name no target of its own (or
    /// none at all), else the one for its targets, opened on first use.
    pub fn for_proxy(&mut self, s: &crate::config::ProxySettings) -> std::sync::Arc<AccessLog> {
        let targets = s.log_targets(&self.global_targets);
        if targets.is_empty() || targets == self.global_targets {
            return self.global.clone();
        }
        if let Some((_, l)) = self.own.iter().find(|(t, _)| *t == targets) {
            return l.clone();
        }
        let l = std::sync::Arc::new(AccessLog::new(&targets));
        self.own.push((targets, l.clone()));
        l
    }
}

/// Where access log lines go: stderr (through `tracing`, target `lbproxy::access`) and the
/// syslog servers of a list of `log` lines (UDP or a unix datagram socket such as
/// `/dev/log`), in RFC 3164 format with HAProxy's tag.
#[derive(Debug, Default)]
pub struct AccessLog {
    stderr: bool,
    syslog: Vec<(SyslogTarget, u8)>,
}

#[derive(Debug)]
enum SyslogTarget {
    Udp(std::net::UdpSocket, SocketAddr),
    Unix(std::os::unix::net::UnixDatagram, std::path::PathBuf),
}

impl AccessLog {
    /// Builds the sinks for the `global` `log` lines (none: stderr).
    pub fn new(logs: &[crate::config::LogConfig]) -> AccessLog {
        use crate::config::LogTarget;
        let mut out = AccessLog {
            stderr: logs.is_empty(),
            syslog: Vec::new(),
        };
        for l in logs {
            match &l.target {
                LogTarget::Stderr | LogTarget::Stdout => out.stderr = true,
                LogTarget::Udp(addr) => {
                    let bind: SocketAddr = if addr.is_ipv4() {
                        ([0, 0, 0, 0], 0).into()
                    } else {
                        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                    };
                    match std::net::UdpSocket::bind(bind) {
                        Ok(s) => {
                            let _ = s.set_nonblocking(true);
                            out.syslog.push((SyslogTarget::Udp(s, *addr), l.facility));
                        }
                        Err(e) => tracing::warn!("log {addr}: {e}; using stderr"),
                    }
                }
                LogTarget::Unix(path) => match std::os::unix::net::UnixDatagram::unbound() {
                    Ok(s) => {
                        let _ = s.set_nonblocking(true);
                        out.syslog
                            .push((SyslogTarget::Unix(s, path.clone()), l.facility));
                    }
                    Err(e) => tracing::warn!("log {}: {e}; using stderr", path.display()),
                },
            }
        }
        if out.syslog.is_empty() {
            out.stderr = true;
        }
        out
    }

    /// Emits one access log line.
    pub fn emit(&self, line: &str) {
        if self.stderr {
            tracing::info!(target: "lbproxy::access", "{line}");
        }
        self.syslog(SEVERITY_INFO, line);
    }

    /// Sends `line` to the syslog targets only, at `severity` (0 emerg .. 7 debug): for
    /// events already logged to stderr through `tracing`, such as server state changes.
    pub fn syslog(&self, severity: u8, line: &str) {
        if self.syslog.is_empty() {
            return;
        }
        let now = SystemTime::now();
        for (t, facility) in &self.syslog {
            let msg = syslog_line(
                *facility,
                severity,
                now,
                "haproxy",
                std::process::id(),
                line,
            );
            // Datagrams, non-blocking: a slow syslog drops lines instead of stalling traffic.
            let _ = match t {
                SyslogTarget::Udp(s, a) => s.send_to(msg.as_bytes(), a).map(|_| ()),
                SyslogTarget::Unix(s, p) => s.send_to(msg.as_bytes(), p).map(|_| ()),
            };
        }
    }
}

/// An RFC 3164 line: `<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE` (UTC), where PRI is
/// `facility * 8 + severity` (severity 0 emerg .. 7 debug; a larger one counts as debug).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// // 2026-11-02 03:04:05 UTC, daemon.info
/// let at = UNIX_EPOCH + Duration::from_secs(1_793_588_645);
/// assert_eq!(
///     l7_proxy::log::syslog_line(3, 6, at, "vrrpd", 42, "hello"),
///     "<30>Nov  2 03:04:05 vrrpd[42]: hello"
/// );
/// ```
pub fn syslog_line(
    facility: u8,
    severity: u8,
    at: SystemTime,
    tag: &str,
    pid: u32,
    message: &str,
) -> String {
    let pri = u32::from(facility) * 8 + u32::from(severity.min(7));
    format!("<{pri}>{} {tag}[{pid}]: {message}", syslog_date(at))
}

/// RFC 3164 timestamp: `Nov 22 03:22:49`.
fn syslog_date(t: SystemTime) -> String {
    let d = accept_date(t);
    // `22/Nov/2026:03:22:49.123` -> `Nov 22 03:22:49`
    let day = d.get(0..2).unwrap_or("01");
    let mon = d.get(3..6).unwrap_or("Jan");
    let time = d.get(12..20).unwrap_or("00:00:00");
    format!("{mon} {:>2} {time}", day.trim_start_matches('0'))
}

/// HAProxy's accept date: `22/Nov/2026:03:22:49.123` (UTC).
pub fn accept_date(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days(i64::try_from(secs / 86400).unwrap_or(0));
    let rem = secs % 86400;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mon = MONTHS[usize::try_from(m.saturating_sub(1)).unwrap_or(0).min(11)];
    format!(
        "{day:02}/{mon}/{y}:{:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn ms(d: Option<Duration>) -> String {
    match d {
        Some(d) => d.as_millis().to_string(),
        None => "-1".into(),
    }
}

/// The fields of one `httplog` line.
#[derive(Debug, Clone)]
pub struct HttpLog<'a> {
    /// Client address.
    pub client: SocketAddr,
    /// When the request started (`%tr`).
    pub date: SystemTime,
    /// Frontend name.
    pub frontend: &'a str,
    /// Backend name, or the frontend's when none was chosen.
    pub backend: &'a str,
    /// Server name, or `<NOSRV>`.
    pub server: &'a str,
    /// Time to receive the request head (`%TR`).
    pub t_req: Option<Duration>,
    /// Time in queue (`%Tw`).
    pub t_queue: Option<Duration>,
    /// Time to connect (`%Tc`).
    pub t_connect: Option<Duration>,
    /// Server response time (`%Tr`).
    pub t_resp: Option<Duration>,
    /// Total active time (`%Ta`).
    pub t_total: Duration,
    /// Status sent to the client.
    pub status: u16,
    /// Bytes sent to the client.
    pub bytes: u64,
    /// Termination state, 2 chars (`--`, `SC`, `sH`...).
    pub term: [u8; 2],
    /// Process, frontend, backend, server connections, retries.
    pub conns: [usize; 5],
    /// Server queue, backend queue.
    pub queues: [usize; 2],
    /// Request line.
    pub request: &'a str,
}

impl HttpLog<'_> {
    /// Formats the line like HAProxy's `option httplog`.
    pub fn format(&self) -> String {
        let mut s = String::with_capacity(160);
        let _ = write!(
            s,
            "{} [{}] {} {}/{} {}/{}/{}/{}/{} {} {} - - {}{}-- {}/{}/{}/{}/{} {}/{} \"{}\"",
            self.client,
            accept_date(self.date),
            self.frontend,
            self.backend,
            self.server,
            ms(self.t_req),
            ms(self.t_queue),
            ms(self.t_connect),
            ms(self.t_resp),
            self.t_total.as_millis(),
            self.status,
            self.bytes,
            char::from(self.term[0]),
            char::from(self.term[1]),
            self.conns[0],
            self.conns[1],
            self.conns[2],
            self.conns[3],
            self.conns[4],
            self.queues[0],
            self.queues[1],
            LogEncoded(self.request),
        );
        s
    }
}

/// A request line as HAProxy logs it: control bytes, bytes from 127 up, `"` and `#` as `#`
/// and two hex digits (its `url_encode_map`), so a client cannot end the quoted field or
/// forge a line, and log parsers built for HAProxy read ours.
struct LogEncoded<'a>(&'a str);

impl std::fmt::Display for LogEncoded<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let bytes = self.0.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if !(32..127).contains(&b) || b == b'"' || b == b'#' {
                // Runs between escapes are plain ASCII, so valid UTF-8 on their own.
                f.write_str(self.0.get(start..i).unwrap_or_default())?;
                let hex = [b'#', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]];
                f.write_str(std::str::from_utf8(&hex).unwrap_or_default())?;
                start = i + 1;
            }
        }
        f.write_str(self.0.get(start..).unwrap_or_default())
    }
}

/// One `tcplog` line: `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`.
#[allow(clippy::too_many_arguments)]
pub fn tcp_log(
    client: SocketAddr,
    date: SystemTime,
    frontend: &str,
    backend: &str,
    server: &str,
    t_queue: Option<Duration>,
    t_connect: Option<Duration>,
    t_total: Duration,
    bytes: u64,
    term: [u8; 2],
    conns: [usize; 5],
) -> String {
    format!(
        "{client} [{}] {frontend} {backend}/{server} {}/{}/{} {bytes} {}{} {}/{}/{}/{}/{} 0/0",
        accept_date(date),
        ms(t_queue),
        ms(t_connect),
        t_total.as_millis(),
        char::from(term[0]),
        char::from(term[1]),
        conns[0],
        conns[1],
        conns[2],
        conns[3],
        conns[4],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_udp_receives_lines() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        rx.set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap_or_default();
        let cfg = crate::config::LogConfig {
            target: crate::config::LogTarget::Udp(
                rx.local_addr().unwrap_or_else(|e| panic!("{e}")),
            ),
            facility: 16,
        };
        let log = AccessLog::new(&[cfg]);
        log.emit("hello line");
        let mut b = [0u8; 512];
        let n = rx.recv(&mut b).unwrap_or_else(|e| panic!("{e}"));
        let got = String::from_utf8_lossy(&b[..n]).to_string();
        assert!(got.starts_with("<134>"), "{got}");
        assert!(got.ends_with("]: hello line"), "{got}");
        log.syslog(SEVERITY_ALERT, "Server be/s is DOWN");
        let n = rx.recv(&mut b).unwrap_or_else(|e| panic!("{e}"));
        let got = String::from_utf8_lossy(&b[..n]).to_string();
        assert!(got.starts_with("<129>"), "local0.alert: {got}");
        assert!(got.ends_with("]: Server be/s is DOWN"), "{got}");
        assert_eq!(syslog_date(UNIX_EPOCH), "Jan  1 00:00:00");
    }

    #[test]
    fn date_format() {
        // 2026-11-22T03:22:49.123Z
        let t = UNIX_EPOCH + Duration::from_millis(1_795_317_769_123);
        assert_eq!(accept_date(t), "22/Nov/2026:03:22:49.123");
        assert_eq!(accept_date(UNIX_EPOCH), "01/Jan/1970:00:00:00.000");
    }

    #[test]
    fn httplog_line() {
        let l = HttpLog {
            client: "127.0.0.1:40000".parse().unwrap_or_else(|_| unreachable!()),
            date: UNIX_EPOCH,
            frontend: "fe",
            backend: "be",
            server: "web1",
            t_req: Some(Duration::from_millis(1)),
            t_queue: Some(Duration::ZERO),
            t_connect: Some(Duration::from_millis(2)),
            t_resp: Some(Duration::from_millis(3)),
            t_total: Duration::from_millis(7),
            status: 200,
            bytes: 150,
            term: *b"--",
            conns: [1, 1, 0, 0, 0],
            queues: [0, 0],
            request: "GET / HTTP/1.1",
        };
        assert_eq!(
            l.format(),
            "127.0.0.1:40000 [01/Jan/1970:00:00:00.000] fe be/web1 1/0/2/3/7 200 150 - - ---- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\""
        );
    }

    #[test]
    fn request_lines_are_encoded_as_haproxy_does() {
        let enc = |s: &str| LogEncoded(s).to_string();
        assert_eq!(enc("GET /a?b=c HTTP/1.1"), "GET /a?b=c HTTP/1.1");
        assert_eq!(
            enc("GET /\"x\"#frag HTTP/1.1"),
            "GET /#22x#22#23frag HTTP/1.1"
        );
        assert_eq!(enc("GET /\tq\r\n"), "GET /#09q#0D#0A");
        assert_eq!(enc("GET /\u{7f}"), "GET /#7F");
        // Every byte of a multi-byte character, as HAProxy sees bytes.
        assert_eq!(enc("GET /é"), "GET /#C3#A9");
        // Characters HAProxy leaves alone in a request line, backslash among them.
        assert_eq!(enc("{|}\\ <>"), "{|}\\ <>");
    }
}
