//! What must hold while the simulation runs: VIPs held exactly by running Masters, a bounded
//! overlap of two Masters once the link is calm, handovers within the RFC's bounds, and one
//! Master per connected group once settled.

use crate::fsm::{Duration, Instant, RouterConfig, State};

use super::Sim;

/// Skew_Time (or Master_Down_Interval when `down`) per RFC 9568 6.1 / RFC 3768 6.1, written
/// out independently of the state machine so the simulator checks it.
/// `master_cs` is the leaving Master's interval, which a v3 Backup has learned.
fn rfc_bound(cfg: &RouterConfig, priority: u8, down: bool, master_cs: u16) -> Duration {
    let adv_cs = u64::from(match cfg.version {
        vrrp_proto::Version::V3 => master_cs,
        vrrp_proto::Version::V2 => cfg.advert_interval_cs,
    });
    let skew_us = match cfg.version {
        vrrp_proto::Version::V3 => (256 - u64::from(priority)) * adv_cs / 256 * 10_000,
        vrrp_proto::Version::V2 => (256 - u64::from(priority)) * 1_000_000 / 256,
    };
    let mdi_us = if down { 3 * adv_cs * 10_000 } else { 0 };
    Duration::from_micros(mdi_us + skew_us)
}

/// A pending "someone takes over in time" check.
#[derive(Debug, Clone)]
pub(super) struct Handover {
    pub(super) what: &'static str,
    pub(super) from: usize,
    pub(super) deadline: Instant,
    pub(super) candidates: Vec<usize>,
}

impl Sim {
    /// Expects a Backup connected to `from` to be Master within the delay bound plus the
    /// best candidate's Master_Down_Interval (`down`) or Skew_Time, computed here from the
    /// RFC formulas rather than by the state machine under test.
    pub(super) fn expect_handover(&mut self, from: usize, what: &'static str, down: bool) {
        let mut candidates = Vec::new();
        let mut best: Option<Duration> = None;
        let master_cs = self.nodes.get(from).map_or(0, |n| n.cfg.advert_interval_cs);
        for (j, n) in self.nodes.iter().enumerate() {
            if j != from && n.running && n.vr.state() == State::Backup && self.connected(from, j) {
                candidates.push(j);
                let b = rfc_bound(&n.cfg, n.vr.priority(), down, master_cs);
                best = Some(best.map_or(b, |x| x.min(b)));
            }
        }
        if let Some(b) = best {
            let deadline = self.now + self.link.delay_max + b;
            self.note(|| format!("expect a Master among {candidates:?} by {deadline} ({what})"));
            self.handovers.push(Handover {
                what,
                from,
                deadline,
                candidates,
            });
        }
    }

    /// Invariants that hold at every instant: VIPs held exactly by running Masters; once the
    /// link is calm, two connected nodes hold the VIPs together for at most one advert
    /// interval plus the delay bound; pending handovers resolve.
    pub(super) fn after_step(&mut self) {
        let n = self.nodes.len();
        for i in 0..n {
            let Some(node) = self.nodes.get(i) else {
                continue;
            };
            if node.running && node.vips != (node.vr.state() == State::Master) {
                let (s, v) = (node.vr.state(), node.vips);
                self.violation(format!("n{i} in {s} with vips={v}"));
            }
        }
        // Handovers: resolved once a candidate is Master.
        let nodes = &self.nodes;
        self.handovers.retain(|h| {
            !h.candidates.iter().any(|&j| {
                nodes
                    .get(j)
                    .is_some_and(|x| x.running && x.vr.state() == State::Master)
            })
        });
        let now = self.now;
        let mut found = Vec::new();
        for i in 0..n {
            for j in (i + 1)..n {
                let both = self.nodes.get(i).is_some_and(|x| x.running && x.vips)
                    && self.nodes.get(j).is_some_and(|x| x.running && x.vips)
                    && self.connected(i, j);
                let slot = i * n + j;
                let start = self.overlap.get(slot).copied().flatten();
                match (both, start) {
                    (true, None) => {
                        if let Some(s) = self.overlap.get_mut(slot) {
                            *s = Some(now);
                        }
                    }
                    (false, Some(_)) => {
                        if let Some(s) = self.overlap.get_mut(slot) {
                            *s = None;
                        }
                    }
                    _ => {}
                }
                if let (true, Some(start), Some(calm)) = (both, start, self.calm_since) {
                    let begin = start.max(calm);
                    let bound = self.overlap_bound(i, j);
                    if now - begin > bound {
                        found.push((i, j, begin, bound));
                        // Report once per overlap.
                        if let Some(s) = self.overlap.get_mut(slot) {
                            *s = Some(Instant::from_micros(u64::MAX));
                        }
                    }
                }
            }
        }
        for (i, j, begin, bound) in found {
            self.violation(format!(
                "n{i} and n{j} both hold the VIPs since {begin}, longer than {bound}"
            ));
        }
    }

    fn overlap_bound(&self, i: usize, j: usize) -> Duration {
        let adv = |k: usize| {
            self.nodes
                .get(k)
                .map_or(Duration::ZERO, |n| n.vr.advert_interval())
        };
        adv(i).max(adv(j)) + self.link.delay_max
    }

    /// Checks that every connected group with at least one eligible node (running, not in
    /// Fault) has exactly one Master and that no preempting node of that group has a higher
    /// effective priority than it. Returns false (and records a violation) otherwise.
    pub fn check_single_master(&mut self, when: &str) -> bool {
        let mut groups: Vec<u8> = self.group.clone();
        groups.sort_unstable();
        groups.dedup();
        let mut problems = Vec::new();
        for g in groups {
            let members: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| self.group.get(i) == Some(&g))
                .filter(|&i| {
                    self.nodes.get(i).is_some_and(|n| {
                        n.running && matches!(n.vr.state(), State::Backup | State::Master)
                    })
                })
                .collect();
            if members.is_empty() {
                continue;
            }
            let masters: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&i| {
                    self.nodes
                        .get(i)
                        .is_some_and(|n| n.vr.state() == State::Master)
                })
                .collect();
            let [m] = masters[..] else {
                problems.push(format!(
                    "{when}: group {g} members {members:?} has Masters {masters:?}"
                ));
                continue;
            };
            let mp = self.nodes.get(m).map_or(0, |n| n.vr.priority());
            for &i in &members {
                let Some(node) = self.nodes.get(i) else {
                    continue;
                };
                if i != m && node.cfg.preempt && node.vr.priority() > mp {
                    problems.push(format!(
                        "{when}: group {g}: n{i} (prio {}, preempt) is Backup under n{m} (prio {mp})",
                        node.vr.priority()
                    ));
                }
            }
        }
        let ok = problems.is_empty();
        for p in problems {
            self.violation(p);
        }
        ok
    }
}
