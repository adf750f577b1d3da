//! The daemon's status recorded through the `metrics` facade, under the names
//! keepalived-exporter gives keepalived's statistics (`keepalived_advert_rcvd_total`,
//! `keepalived_vrrp_state`, ...: the mapping is `exporters`', shared with lb-exporter). A
//! binary that installs a recorder (vrrpd `--metrics-addr`) serves them; without one this
//! costs a few no-op calls per status change.

use exporters::keepalived::{self, KEEPALIVED_STATS};
use exporters::status::DaemonStatus;
use tracing::warn;

/// Process events connector messages dropped as malformed (see `procmon`).
pub const PROC_EVENTS_MALFORMED: &str = "vrrpd_process_events_malformed_total";

/// Whether an `anycast_route`'s kernel route is installed (1) or not (0), by route and
/// prefix.
pub const ANYCAST_ANNOUNCED: &str = "vrrpd_anycast_route_announced";

/// Gives each family its help text (once, at start).
pub fn describe() {
    metrics::describe_gauge!(
        ANYCAST_ANNOUNCED,
        "Whether the anycast_route's kernel route is installed for FRR to announce (1) or not (0)"
    );
    metrics::describe_counter!(
        PROC_EVENTS_MALFORMED,
        "Process events connector messages dropped as malformed"
    );
    metrics::describe_gauge!(keepalived::UP.0, keepalived::UP.1);
    metrics::describe_gauge!(keepalived::VRRP_STATE.0, keepalived::VRRP_STATE.1);
    for (name, help) in KEEPALIVED_STATS {
        metrics::describe_counter!(format!("keepalived_{name}_total"), help);
    }
    metrics::gauge!(keepalived::UP.0).set(1.0);
}

/// Sets every counter and state gauge to what `status` says. Counters are set, not added
/// to: the status already holds totals, kept across instance restarts.
pub fn record(status: &DaemonStatus) {
    for a in &status.anycast_routes {
        metrics::gauge!(ANYCAST_ANNOUNCED, "route" => a.name.clone(), "prefix" => a.prefix.clone())
            .set(if a.announced { 1.0 } else { 0.0 });
    }
    let report = match exporters::vrrpd::report(status) {
        Ok(r) => r,
        Err(e) => {
            warn!("metrics not recorded: {e}");
            return;
        }
    };
    for inst in &report.instances {
        let (iname, intf, vrid) = (inst.iname.clone(), inst.intf.clone(), inst.vrid.to_string());
        for (name, value) in &inst.counters {
            metrics::counter!(
                format!("keepalived_{name}_total"),
                "iname" => iname.clone(),
                "intf" => intf.clone(),
                "vrid" => vrid.clone()
            )
            .absolute(*value);
        }
        for vip in &inst.vips {
            metrics::gauge!(
                keepalived::VRRP_STATE.0,
                "iname" => iname.clone(),
                "intf" => vip.intf.clone(),
                "vrid" => vrid.clone(),
                "ip_address" => vip.address.clone()
            )
            .set(inst.state.number());
        }
    }
}
