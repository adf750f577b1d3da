//! The simulated link: how each advert copy is lost, duplicated, delayed and delivered.

use std::cmp::Reverse;

use crate::fsm::{Advert, Duration, Event, Instant};

use super::Sim;

/// How the simulated link treats each advert copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// Smallest one-way delay.
    pub delay_min: Duration,
    /// Largest one-way delay: the link's delay bound used by the invariants.
    pub delay_max: Duration,
    /// Probability a copy is lost, per mille.
    pub loss_per_mille: u16,
    /// Probability a copy is delivered twice, per mille.
    pub dup_per_mille: u16,
    /// Deliver in send order between each pair of nodes (no reordering).
    pub fifo: bool,
}

impl LinkConfig {
    /// A perfect link: no loss, no duplicates, in order, delays in `min..=max`.
    pub fn calm(delay_min: Duration, delay_max: Duration) -> Self {
        LinkConfig {
            delay_min,
            delay_max,
            loss_per_mille: 0,
            dup_per_mille: 0,
            fifo: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Packet {
    pub(super) at: Instant,
    pub(super) seq: u64,
    pub(super) from: usize,
    pub(super) to: usize,
    pub(super) priority: u8,
    pub(super) interval: u16,
}

impl Sim {
    /// Hands a packet due now to its receiver, if it is up and on the sender's side.
    pub(super) fn deliver(&mut self, p: Packet) {
        let (Some(from), Some(to)) = (self.nodes.get(p.from), self.nodes.get(p.to)) else {
            return;
        };
        if !to.running || !self.connected(p.from, p.to) {
            return;
        }
        let adv = Advert {
            source: from.cfg.primary_address,
            version: from.cfg.version,
            vrid: from.cfg.vrid,
            priority: p.priority,
            max_advert_interval: p.interval,
        };
        self.handle(p.to, Event::Advert(adv));
    }

    /// Queues one copy of an advert (or two, or none) to every host on the sender's side.
    pub(super) fn broadcast(&mut self, from: usize, priority: u8, interval: u16) {
        let n = self.nodes.len();
        for to in 0..n {
            if to == from || !self.connected(from, to) {
                continue;
            }
            if self.rng.chance(u64::from(self.link.loss_per_mille)) {
                self.note(|| format!("  lost n{from}->n{to}"));
                continue;
            }
            let copies = if self.rng.chance(u64::from(self.link.dup_per_mille)) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let delay = self.rng.range(
                    self.link.delay_min.as_micros(),
                    self.link.delay_max.as_micros(),
                );
                let mut at = self.now + Duration::from_micros(delay);
                if self.link.fifo {
                    if let Some(last) = self.last_delivery.get_mut(from * n + to) {
                        at = at.max(*last);
                        *last = at;
                    }
                }
                self.seq += 1;
                self.queue.push(Reverse(Packet {
                    at,
                    seq: self.seq,
                    from,
                    to,
                    priority,
                    interval,
                }));
            }
        }
    }
}
