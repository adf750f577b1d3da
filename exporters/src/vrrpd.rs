//! vrrpd's `/status` ([`crate::status::DaemonStatus`]) as a [`VrrpReport`]: the same
//! keepalived families as a real keepalived, every counter vrrpd keeps published as
//! `keepalived_<name>_total` (keepalived's own names first, then vrrpd's additions such as
//! `become_backup`, `garp_sent`, `checksum_err`, `fsm_lower_priority`).

use std::borrow::Cow;

use crate::keepalived::{Vip, VrrpInstance, VrrpReport, VrrpState};
use crate::status::DaemonStatus;

/// Why a vrrpd status cannot be published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// The body is not vrrpd's status JSON.
    #[error("not a vrrpd status: {0}")]
    Json(String),
    /// A state vrrpd does not publish.
    #[error("instance {instance}: unknown state {state:?}")]
    UnknownState {
        /// Instance.
        instance: String,
        /// The text.
        state: String,
    },
}

/// Parses the body of `GET /status`.
pub fn parse(body: &str) -> Result<DaemonStatus, StatusError> {
    serde_json::from_str(body).map_err(|e| StatusError::Json(e.to_string()))
}

/// The report of a status.
pub fn report(status: &DaemonStatus) -> Result<VrrpReport, StatusError> {
    let mut instances = Vec::with_capacity(status.instances.len());
    for inst in &status.instances {
        let state = VrrpState::from_name(&inst.state).ok_or_else(|| StatusError::UnknownState {
            instance: inst.name.clone(),
            state: inst.state.clone(),
        })?;
        let mut counters: Vec<(Cow<'static, str>, u64)> = inst
            .counters
            .named()
            .into_iter()
            .map(|(n, v)| (Cow::Borrowed(n), v))
            .collect();
        counters.extend(
            inst.counters
                .drops
                .iter()
                .map(|(n, v)| (Cow::Owned(n.clone()), *v)),
        );
        instances.push(VrrpInstance {
            iname: inst.name.clone(),
            intf: inst.interface.clone(),
            vrid: inst.vrid,
            state,
            vips: inst
                .vips
                .iter()
                .map(|v| Vip {
                    address: v.clone(),
                    intf: inst.interface.clone(),
                })
                .collect(),
            counters,
            garp_delay: None,
        });
    }
    Ok(VrrpReport {
        instances,
        scripts: Vec::new(),
    })
}
