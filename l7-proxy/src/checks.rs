//! Wiring `health` checks to servers: state into an atomic, transitions logged as HAProxy
//! words them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use health::{Check, CheckHandle, CheckKind, HttpCheck, Timing};
use tokio::task::JoinHandle;

use crate::backend::Backend;
use crate::backend::Server;
use crate::config::{Config, ProxySettings, ServerParams};
use crate::log::{LogSinks, Severity};
use crate::net::tls::client::UpstreamTls;

/// A running check of one server; dropping it stops the check and its watcher.
#[derive(Debug)]
pub struct ServerCheck {
    _handle: CheckHandle,
    watcher: JoinHandle<()>,
}

impl Drop for ServerCheck {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// Starts the checks of every server with `check`. State changes are logged through
/// `tracing` and, for backends with `log` lines, sent to their syslog targets (the global
/// ones for `log global`) as HAProxy does: DOWN at `alert`, UP at `notice`, "no server
/// available" at `emerg`.
pub fn start(
    backends: &HashMap<String, Arc<Backend>>,
    cfg: &Config,
    sinks: &mut LogSinks,
) -> Vec<ServerCheck> {
    let mut out = Vec::new();
    for be in backends.values() {
        let syslog = (!be.settings.logs.is_empty()).then(|| sinks.for_proxy(&be.settings));
        let Some(conf) = cfg.backend(&be.name) else {
            continue;
        };
        for (i, (s, sc)) in be.servers.iter().zip(&conf.servers).enumerate() {
            let params = &sc.params;
            if !params.check || params.disabled {
                continue;
            }
            let handle = health::spawn(check_of(&be.settings, s, params), true);
            // The statistics read the latest result through it.
            let _ = s.check.set(handle.subscribe());
            let watcher = tokio::spawn(watch(handle.subscribe(), be.clone(), i, syslog.clone()));
            out.push(ServerCheck {
                _handle: handle,
                watcher,
            });
        }
    }
    out
}

/// The check of a server: `option httpchk` or a TCP connect, with HAProxy's timing;
/// over TLS for an `ssl` server unless `no-check-ssl` (HAProxy checks such servers over
/// SSL by default).
fn check_of(st: &ProxySettings, server: &Server, params: &ServerParams) -> Check {
    let addr = server.addr;
    let layer = match (&server.tls, params.check_ssl) {
        (Some(tls), None | Some(true)) => Some(health::Layer(Arc::new(TlsCheck {
            tls: tls.clone(),
            ip: addr.ip(),
        }))),
        _ => None,
    };
    let kind = match (&st.httpchk, layer) {
        (Some(h), layer) => CheckKind::Http(HttpCheck {
            addr,
            method: h.method.clone(),
            uri: h.uri.clone(),
            host: h.host.clone(),
            expect_status: st.expect_status,
            layer,
        }),
        (None, Some(layer)) => CheckKind::Layered { addr, layer },
        (None, None) => CheckKind::Tcp { addr },
    };
    // HAProxy: connect within `timeout connect` (bounded by inter), and the response
    // within `timeout check` when set.
    let timeout = st
        .timeouts
        .check
        .or(st.timeouts.connect)
        .unwrap_or(params.inter)
        .min(params.inter.max(Duration::from_millis(100)));
    let timing = Timing {
        inter: params.inter,
        fastinter: params.fastinter.unwrap_or(params.inter),
        downinter: params.downinter.unwrap_or(params.inter),
        timeout,
        rise: params.rise,
        fall: params.fall,
    };
    Check { kind, timing }
}

/// The TLS of a check (`check-ssl`): the server's own TLS settings, with its fixed SNI
/// (a check has no request to take a Host from).
struct TlsCheck {
    tls: UpstreamTls,
    ip: IpAddr,
}

impl health::Wrap for TlsCheck {
    fn wrap(&self, tcp: tokio::net::TcpStream) -> health::Wrapped<'_> {
        let connector = tokio_rustls::TlsConnector::from(self.tls.config.clone());
        let name = self.tls.server_name(self.ip, None, None);
        Box::pin(async move {
            let s = connector.connect(name, tcp).await?;
            Ok(Box::new(s) as Box<dyn health::CheckIo>)
        })
    }
}

/// Follows a check's transitions: the server's state, and HAProxy's messages to `tracing`
/// and to the backend's syslog targets.
async fn watch(
    mut rx: tokio::sync::watch::Receiver<health::HealthState>,
    be: Arc<Backend>,
    idx: usize,
    syslog: Option<Arc<crate::log::AccessLog>>,
) {
    while rx.changed().await.is_ok() {
        let state = rx.borrow_and_update().clone();
        let Some(server) = be.servers.get(idx) else {
            return;
        };
        be.set_server_up(idx, state.up);
        let reason = state.reason.map(|r| r.describe()).unwrap_or_default();
        let (a, b) = be.up_counts();
        let counts = (server.active(), server.queued());
        let msg = transition_message(
            &be.name,
            &server.name,
            state.up,
            &reason,
            (a, b),
            counts.0,
            counts.1,
        );
        tracing::warn!("{msg}");
        let sev = if state.up {
            Severity::Notice
        } else {
            Severity::Alert
        };
        if let Some(l) = &syslog {
            l.syslog(sev, &msg);
        }
        if !state.up && a + b == 0 {
            let msg = format!("backend {} has no server available!", be.name);
            tracing::error!("{msg}");
            if let Some(l) = &syslog {
                l.syslog(Severity::Emergency, &msg);
            }
        }
    }
}

/// HAProxy's wording of a server state change.
pub fn transition_message(
    backend: &str,
    server: &str,
    up: bool,
    reason: &str,
    (active, backup): (usize, usize),
    sessions: usize,
    queued: usize,
) -> String {
    if up {
        format!(
            "Server {backend}/{server} is UP, reason: {reason}. {active} active and {backup} backup servers online. 0 sessions requeued, 0 total in queue."
        )
    } else {
        format!(
            "Server {backend}/{server} is DOWN, reason: {reason}. {active} active and {backup} backup servers left. {sessions} sessions active, 0 requeued, {queued} remaining in queue."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use health::{CheckResult, CheckStatus};

    #[test]
    fn haproxy_wording() {
        let r = CheckResult {
            status: CheckStatus::L4Con,
            code: None,
            info: "Connection refused".into(),
            duration: Duration::from_millis(0),
        };
        assert_eq!(
            transition_message("be", "web1", false, &r.describe(), (2, 0), 0, 0),
            "Server be/web1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 2 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
        );
        let ok = CheckResult {
            status: CheckStatus::L7Ok,
            code: Some(200),
            info: "OK".into(),
            duration: Duration::from_millis(1),
        };
        assert!(transition_message("be", "web1", true, &ok.describe(), (3, 1), 0, 0)
            .starts_with("Server be/web1 is UP, reason: Layer7 check passed, code: 200, info: \"OK\", check duration: 1ms. 3 active and 1 backup servers online."));
    }
}
