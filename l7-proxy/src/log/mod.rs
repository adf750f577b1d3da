//! Logging as HAProxy does: access log lines ([`line`]: `httplog`, `tcplog`), syslog
//! framing ([`syslog`]: RFC 3164), and the sinks each proxy's `log` lines select.

mod line;
mod syslog;
mod throttle;

pub use health::syslog::Severity;
pub use line::{HttpLog, TcpLog};
pub use syslog::accept_date;
pub use throttle::Throttle;

use std::net::SocketAddr;
use std::time::SystemTime;

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
        self.syslog(Severity::Informational, line);
    }

    /// Sends `line` to the syslog targets only, at `severity`: for
    /// events already logged to stderr through `tracing`, such as server state changes.
    pub fn syslog(&self, severity: Severity, line: &str) {
        if self.syslog.is_empty() {
            return;
        }
        let now = SystemTime::now();
        for (t, facility) in &self.syslog {
            let msg = health::syslog::line(
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        log.syslog(Severity::Alert, "Server be/s is DOWN");
        let n = rx.recv(&mut b).unwrap_or_else(|e| panic!("{e}"));
        let got = String::from_utf8_lossy(&b[..n]).to_string();
        assert!(got.starts_with("<129>"), "local0.alert: {got}");
        assert!(got.ends_with("]: Server be/s is DOWN"), "{got}");
    }
}
