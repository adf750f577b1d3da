//! What comes in besides timers: datagrams from the socket readers, track script results
//! and link state.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::fsm::Event;
use crate::net::RecvMeta;

use super::plan::TrackSource;
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
        self.script_state.insert(report.name.clone(), report.ok);
        for r in &mut self.instances {
            r.inst.update_tracks(now, |source| match source {
                TrackSource::Script { name, reverse } if *name == report.name => {
                    Some(report.ok != *reverse)
                }
                _ => None,
            });
        }
        self.run_all_actions().await;
    }

    /// Reads the link state of every interface an instance runs on or tracks; a change
    /// reaches the instances on it (Fault) and those tracking it.
    pub(super) async fn poll_links(&mut self) {
        let now = self.now();
        let mut changed = false;
        let mut names: Vec<String> = Vec::new();
        for r in &self.instances {
            names.push(r.inst.plan.socket.interface.clone());
            for src in &r.inst.plan.tracks {
                if let TrackSource::Interface { name } = src {
                    names.push(name.clone());
                }
            }
        }
        names.sort();
        names.dedup();
        for name in names {
            let up = link_running(&name);
            if self.link_up.insert(name.clone(), up) == Some(up) {
                continue;
            }
            changed = true;
            info!(interface = %name, up, "link state changed");
            for r in &mut self.instances {
                if r.inst.plan.socket.interface == name && !r.inst.plan.source.dont_track_primary {
                    let ev = if up {
                        Event::InterfaceUp
                    } else {
                        Event::InterfaceDown
                    };
                    r.inst.router.handle(now, ev);
                }
                r.inst.update_tracks(now, |source| {
                    matches!(source, TrackSource::Interface { name: n } if *n == name).then_some(up)
                });
            }
        }
        if changed {
            self.run_all_actions().await;
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
