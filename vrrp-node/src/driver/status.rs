//! The status a running `vrrpd` publishes for the exporter and for operators: per instance
//! name, interface, VRID, state, priorities, VIPs and counters, as JSON over loopback HTTP.
//! The record types live in `exporters` ([`exporters::status`]), where the exporter reads
//! them too; here: which counters exist, and the endpoint.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{debug, warn};
use vrrp_proto::DropCounter;

use crate::fsm::{DropReason, Stats};

pub use exporters::status::{AnycastRouteStatus, Counters, DaemonStatus, InstanceStatus};

/// Counters at zero with every drop reason present (see [`drop_names`]): what an instance
/// starts with.
pub fn new_counters() -> Counters {
    Counters::with_drops(drop_names())
}

/// `counters` plus the ones a state machine keeps itself (transitions, `fsm_*` drops). The
/// driver's own hold, for those, what the instance's earlier state machines counted: a
/// restarted instance keeps its counters.
pub fn counters_plus(counters: &Counters, fsm: &Stats) -> Counters {
    let mut total = counters.clone();
    total.become_master += fsm.become_master;
    total.become_backup += fsm.become_backup;
    total.become_fault += fsm.become_fault;
    total.release_master += fsm.release_master;
    total.transitions += fsm.transitions;
    for reason in DropReason::ALL {
        *total
            .drops
            .entry(fsm_drop_name(reason).to_string())
            .or_insert(0) += fsm.dropped(reason);
    }
    total
}

/// The drop counter of an advert the address list of which differs from ours.
pub const ADDR_LIST_ERR: &str = "addr_list_err";

/// The counter name of a state machine drop reason.
pub fn fsm_drop_name(reason: DropReason) -> &'static str {
    match reason {
        DropReason::NotRunning => "fsm_not_running",
        DropReason::InFault => "fsm_in_fault",
        DropReason::WrongVrid => "fsm_wrong_vrid",
        DropReason::WrongVersion => "fsm_wrong_version",
        DropReason::OwnAddress => "fsm_own_address",
        DropReason::AddressFamily => "fsm_address_family",
        DropReason::ZeroInterval => "fsm_zero_interval",
        DropReason::IntervalMismatch => "fsm_interval_mismatch",
        DropReason::LowerPriority => "fsm_lower_priority",
    }
}

/// Every key of [`Counters::drops`]: the codec's, `addr_list_err`, the state machine's.
pub fn drop_names() -> impl Iterator<Item = &'static str> {
    DropCounter::ALL
        .into_iter()
        .map(DropCounter::name)
        .chain([ADDR_LIST_ERR])
        .chain(DropReason::ALL.into_iter().map(fsm_drop_name))
}

/// A request for the daemon's status as it is now: the driver answers with a snapshot made
/// for it, so the endpoint's counters are exact without a snapshot at every advert.
pub type StatusRequest = tokio::sync::oneshot::Sender<DaemonStatus>;

/// Serves `GET /status` (JSON) on `addr` until the task is dropped, asking the driver for
/// each answer over `requests`.
pub async fn serve(listener: TcpListener, requests: mpsc::Sender<StatusRequest>) {
    loop {
        let (mut conn, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                warn!("status endpoint accept: {e}");
                continue;
            }
        };
        let requests = requests.clone();
        tokio::spawn(async move {
            let mut head = [0u8; 1024];
            let n =
                match tokio::time::timeout(std::time::Duration::from_secs(2), conn.read(&mut head))
                    .await
                {
                    Ok(Ok(n)) => n,
                    _ => return,
                };
            let line = String::from_utf8_lossy(&head[..n]);
            let path = line.split_whitespace().nth(1).unwrap_or("");
            let (code, body) = if line.starts_with("GET ") && (path == "/status" || path == "/") {
                match current(&requests).await {
                    Some(snapshot) => (
                        "200 OK",
                        serde_json::to_string_pretty(&snapshot)
                            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")),
                    ),
                    None => (
                        "503 Service Unavailable",
                        "{\"error\":\"the daemon is stopping\"}".to_string(),
                    ),
                }
            } else {
                (
                    "404 Not Found",
                    "{\"error\":\"try GET /status\"}".to_string(),
                )
            };
            let resp = format!(
                "HTTP/1.1 {code}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            if let Err(e) = conn.write_all(resp.as_bytes()).await {
                debug!(%peer, "status endpoint write: {e}");
            }
        });
    }
}

/// The driver's answer to a status request; `None` once it has stopped.
async fn current(requests: &mpsc::Sender<StatusRequest>) -> Option<DaemonStatus> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    requests.send(reply).await.ok()?;
    answer.await.ok()
}

/// Binds the status listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_drop_reason_starts_at_zero_under_a_distinct_snake_case_name() {
        let c = new_counters();
        let names: Vec<&str> = drop_names().collect();
        assert_eq!(c.drops.len(), names.len(), "names are distinct: {names:?}");
        assert!(c.drops.values().all(|v| *v == 0));
        for n in names {
            assert!(
                n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{n} is snake_case"
            );
        }
        assert!(c.drops.contains_key("auth_failure"));
        assert!(c.drops.contains_key("fsm_lower_priority"));
    }
}
