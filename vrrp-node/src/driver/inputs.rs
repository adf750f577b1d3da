//! What comes in besides timers: datagrams from the socket readers, track script results
//! and link state.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::fsm::Instant;
use crate::net::iface::index_of;
use crate::net::RecvMeta;

use super::plan::{InstancePlan, TrackReading, TrackSource};
use super::scripts::ScriptReport;
use super::Daemon;

/// A datagram read by a socket task, tagged with the instance generation it belongs to.
pub(super) struct Datagram {
    pub(super) instance: u64,
    pub(super) bytes: Vec<u8>,
    pub(super) meta: RecvMeta,
    /// When it arrived (the kernel's timestamp, on the monotonic clock): the
    /// Master_Down_Timer runs from the advert's arrival, not from when the loop gets to it.
    pub(super) received: std::time::Instant,
}

impl Daemon {
    /// A track script reported: every instance tracking it hears of its new result.
    pub(super) async fn on_script(&mut self, report: ScriptReport) {
        let now = self.now();
        self.tracked.scripts.insert(report.name.clone(), report.ok);
        for r in &mut self.instances {
            r.inst.update_tracks(now, |source| match source {
                TrackSource::Script { name, reverse } if *name == report.name => {
                    Some(TrackReading::Up(report.ok != *reverse))
                }
                _ => None,
            });
        }
        self.run_all_actions().await;
        self.sync_anycast().await;
    }

    /// Reads the link state of every interface an instance runs on or tracks; a change
    /// reaches the instances tracking it, and each instance follows its own interface
    /// (see [`Daemon::follow_interface`]).
    pub(super) async fn poll_links(&mut self) {
        let now = self.now();
        let mut changed = false;
        // Every interface once (a copy of its name per instance was an allocation per
        // instance per poll).
        let mut names: BTreeSet<String> = BTreeSet::new();
        for r in &self.instances {
            let tracked = r.inst.plan.tracks.iter().filter_map(|src| match src {
                TrackSource::Interface { name } => Some(name),
                _ => None,
            });
            for name in std::iter::once(&r.inst.plan.socket.interface).chain(tracked) {
                if !names.contains(name) {
                    names.insert(name.clone());
                }
            }
        }
        // Each interface's index looked up once per poll, not once per instance on it: an
        // if_nametoindex is three system calls (socket, ioctl, close), 7,650 a second for
        // 255 instances on one interface.
        let mut indexes: HashMap<String, Option<u32>> = HashMap::new();
        for r in &self.instances {
            let name = &r.inst.plan.socket.interface;
            if indexes.contains_key(name) {
                continue;
            }
            match index_of(name) {
                Ok(index) => {
                    indexes.insert(name.clone(), index);
                }
                Err(e) => debug!(interface = %name, "{e}"),
            }
        }
        for name in names {
            let up = link_running(&name);
            if self.link_up.insert(name.clone(), up) == Some(up) {
                continue;
            }
            changed = true;
            info!(interface = %name, up, "link state changed");
            for r in &mut self.instances {
                r.inst.update_tracks(now, |source| {
                    matches!(source, TrackSource::Interface { name: n } if *n == name)
                        .then_some(TrackReading::Up(up))
                });
            }
        }
        for i in 0..self.instances.len() {
            let index = self
                .instances
                .get(i)
                .and_then(|r| indexes.get(&r.inst.plan.socket.interface).copied());
            // An interface whose index could not be read is left as it is until the next poll.
            if let Some(index) = index {
                changed |= self.follow_interface(i, now, index);
            }
        }
        if changed {
            self.run_all_actions().await;
        }
    }

    /// Keeps instance `i` on its own interface as keepalived does on RTM_DELLINK and
    /// RTM_NEWLINK: the sockets go when the interface is deleted (or replaced: a new
    /// index), come back once it exists again, and the state machine hears whether it is
    /// usable (FAULT while it is not). `index`: the interface's index now (`None`: it does
    /// not exist). Returns whether the state machine was told anything.
    fn follow_interface(&mut self, i: usize, now: Instant, index: Option<u32>) -> bool {
        let Some(r) = self.instances.get_mut(i) else {
            return false;
        };
        let name = r.inst.plan.socket.interface.clone();
        if r.inst.attached_index().is_some_and(|at| Some(at) != index) {
            warn!(instance = %r.inst.name(), interface = %name,
                  "interface deleted; FAULT until it is back");
            r.inst.detach();
            if let Some(reader) = r.reader.take() {
                reader.abort();
            }
        }
        if r.inst.attached_index().is_none() && index.is_some() {
            self.attach(i, now);
        }
        let up = self.link_up.get(&name).copied().unwrap_or(false);
        self.instances
            .get_mut(i)
            .is_some_and(|r| r.inst.set_interface_usable(now, up))
    }

    /// Puts instance `i` on its interface, which exists now: a plan made now, its sockets
    /// and reader. A failure (the interface without an address yet, say) leaves it waiting
    /// in FAULT, tried again at the next poll and logged once.
    fn attach(&mut self, i: usize, now: Instant) {
        let Some(source) = self.instances.get(i).map(|r| r.inst.plan.source.clone()) else {
            return;
        };
        let planned = InstancePlan::build(&source, &self.config)
            .map(|plan| (self.router_config_now(&plan), plan));
        let packets_tx = self.packets_tx.clone();
        let Some(r) = self.instances.get_mut(i) else {
            return;
        };
        let attached = planned.and_then(|(router_now, plan)| {
            if !plan.has_interface() {
                return Ok(false); // gone again already
            }
            r.inst.attach(now, plan, router_now).map(|()| true)
        });
        match attached {
            Ok(false) => {}
            Ok(true) => {
                r.attach_error = None;
                r.reader = r
                    .inst
                    .socket()
                    .map(|socket| tokio::spawn(read_loop(r.id, socket, packets_tx)));
                info!(instance = %r.inst.name(), interface = %source.interface,
                      ifindex = r.inst.plan.interface.index, "interface present; instance on it");
            }
            Err(e) => {
                let message = e.to_string();
                if r.attach_error.as_ref() != Some(&message) {
                    warn!("{message}; FAULT until this is fixed");
                    r.attach_error = Some(message);
                }
            }
        }
    }
}

/// Reads an instance's socket until the driver drops the receiving end.
pub(super) async fn read_loop(
    id: u64,
    socket: Arc<crate::net::AdvertSocket>,
    tx: mpsc::Sender<Datagram>,
) {
    let mut buf = vec![0u8; crate::net::MAX_PACKET];
    loop {
        match socket.recv(&mut buf).await {
            Ok(meta) => {
                let received = arrival(meta.arrived);
                let dgram = Datagram {
                    instance: id,
                    bytes: buf[..meta.len.min(buf.len())].to_vec(),
                    meta,
                    received,
                };
                if tx.send(dgram).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                warn!("receiving adverts: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The monotonic time of a datagram the kernel stamped `arrived` on the wall clock: now,
/// less its age. Without a stamp, or with one from the future or over a second old (the
/// wall clock stepped), now.
fn arrival(arrived: Option<std::time::SystemTime>) -> std::time::Instant {
    let now = std::time::Instant::now();
    arrived
        .and_then(|at| std::time::SystemTime::now().duration_since(at).ok())
        .filter(|age| *age < Duration::from_secs(1))
        .and_then(|age| now.checked_sub(age))
        .unwrap_or(now)
}

/// Whether interface `name` is up with carrier, from sysfs (cheap enough to poll).
pub fn link_running(name: &str) -> bool {
    let base = std::path::Path::new("/sys/class/net").join(name);
    let oper = std::fs::read_to_string(base.join("operstate")).unwrap_or_default();
    matches!(oper.trim(), "up" | "unknown")
        && std::fs::read_to_string(base.join("carrier")).is_ok_and(|c| c.trim() == "1")
}

#[cfg(test)]
mod arrival_tests {
    use std::time::{Duration, Instant, SystemTime};

    use super::arrival;

    #[test]
    fn a_kernel_stamp_moves_the_arrival_back_by_its_age() {
        let before = Instant::now();
        let at = arrival(Some(SystemTime::now() - Duration::from_millis(50)));
        let after = Instant::now();
        // About 50 ms before the call (the two clocks are read a moment apart).
        assert!(at <= after - Duration::from_millis(45));
        assert!(at + Duration::from_millis(55) >= before);
    }

    #[test]
    fn no_stamp_a_future_one_or_a_stale_one_means_now() {
        for stamp in [
            None,
            Some(SystemTime::now() + Duration::from_secs(5)),
            Some(SystemTime::now() - Duration::from_secs(5)),
        ] {
            let before = Instant::now();
            let at = arrival(stamp);
            assert!(at >= before && at <= Instant::now(), "{stamp:?}");
        }
    }
}
