//! The status a running `vrrpd` publishes for the exporter and for operators: per instance
//! name, interface, VRID, state, priorities, VIPs and counters, as JSON over loopback HTTP.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, warn};

/// Counters of one instance, named as keepalived's statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Valid adverts received for this VRID.
    pub advert_rcvd: u64,
    /// Adverts sent.
    pub advert_sent: u64,
    /// Priority-0 adverts received.
    pub pri_zero_rcvd: u64,
    /// Priority-0 adverts sent.
    pub pri_zero_sent: u64,
    /// Transitions into Master.
    pub become_master: u64,
    /// Transitions out of Master.
    pub release_master: u64,
    /// State transitions of any kind.
    pub transitions: u64,
    /// Gratuitous ARP / unsolicited NA messages sent.
    pub garp_sent: u64,
    /// Adverts that could not be sent.
    pub send_errors: u64,
    /// Dropped adverts by reason (codec counters such as `auth_failure`, and the state
    /// machine's reasons prefixed `fsm_`).
    pub drops: BTreeMap<String, u64>,
}

/// One instance's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceStatus {
    /// `vrrp_instance` name.
    pub name: String,
    /// Interface.
    pub interface: String,
    /// Virtual router id.
    pub vrid: u8,
    /// Protocol version.
    pub version: u8,
    /// MASTER, BACKUP, FAULT or STOP.
    pub state: String,
    /// Configured priority.
    pub base_priority: u8,
    /// Priority after tracked checks.
    pub effective_priority: u8,
    /// Virtual addresses with prefix.
    pub vips: Vec<String>,
    /// Whether the VIPs are installed here now.
    pub vips_installed: bool,
    /// Counters.
    pub counters: Counters,
}

/// The whole daemon's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DaemonStatus {
    /// `router_id` from global_defs.
    pub router_id: Option<String>,
    /// Successful reloads.
    pub reloads: u64,
    /// Reloads rejected because the new configuration was bad.
    pub reload_failures: u64,
    /// Instances, in configuration order.
    pub instances: Vec<InstanceStatus>,
}

/// Serves `GET /status` (JSON) on `addr` until the task is dropped.
pub async fn serve(listener: TcpListener, status: watch::Receiver<DaemonStatus>) {
    loop {
        let (mut conn, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                warn!("status endpoint accept: {e}");
                continue;
            }
        };
        let status = status.clone();
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
                let snapshot = status.borrow().clone();
                (
                    "200 OK",
                    serde_json::to_string_pretty(&snapshot)
                        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")),
                )
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

/// Binds the status listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
