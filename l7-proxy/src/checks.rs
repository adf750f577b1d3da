//! Wiring `health` checks to servers: state into an atomic, transitions logged as HAProxy
//! words them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use health::{Check, CheckHandle, CheckKind, HttpCheck, Timing};
use tokio::task::JoinHandle;

use crate::backend::Backend;
use crate::config::Config;

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

/// Starts the checks of every server with `check`.
pub fn start(backends: &HashMap<String, Arc<Backend>>, _cfg: &Config) -> Vec<ServerCheck> {
    let mut out = Vec::new();
    for be in backends.values() {
        for (i, s) in be.servers.iter().enumerate() {
            let Some(params) = _cfg
                .backend(&be.name)
                .and_then(|b| b.servers.get(i))
                .map(|c| c.params.clone())
            else {
                continue;
            };
            if !params.check || params.disabled {
                continue;
            }
            let st = &be.settings;
            let kind = match &st.httpchk {
                Some(h) => CheckKind::Http(HttpCheck {
                    addr: s.addr,
                    method: h.method.clone(),
                    uri: h.uri.clone(),
                    host: h.host.clone(),
                    expect_status: st.expect_status,
                }),
                None => CheckKind::Tcp { addr: s.addr },
            };
            // HAProxy: connect within `timeout connect` (bounded by inter), and the
            // response within `timeout check` when set.
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
            let handle = health::spawn(Check { kind, timing }, true);
            let mut rx = handle.subscribe();
            let be2 = be.clone();
            let idx = i;
            let watcher = tokio::spawn(async move {
                while rx.changed().await.is_ok() {
                    let state = rx.borrow_and_update().clone();
                    let Some(server) = be2.servers.get(idx) else {
                        return;
                    };
                    server.set_up(state.up);
                    let reason = state.reason.map(|r| r.describe()).unwrap_or_default();
                    let (a, b) = be2.up_counts();
                    if state.up {
                        tracing::warn!(
                            "Server {}/{} is UP, reason: {}. {} active and {} backup servers online. 0 sessions requeued, 0 total in queue.",
                            be2.name, server.name, reason, a, b
                        );
                    } else {
                        tracing::warn!(
                            "Server {}/{} is DOWN, reason: {}. {} active and {} backup servers left. {} sessions active, 0 requeued, {} remaining in queue.",
                            be2.name, server.name, reason, a, b, server.active(), server.queued()
                        );
                        if a + b == 0 {
                            tracing::error!("backend {} has no server available!", be2.name);
                        }
                    }
                }
            });
            out.push(ServerCheck {
                _handle: handle,
                watcher,
            });
        }
    }
    out
}
