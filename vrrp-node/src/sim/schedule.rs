//! The scheduler: the next packet delivery or timer, one at a time, in time order.

use std::cmp::Reverse;

use crate::fsm::Instant;

use super::{Handover, Sim};

/// A run stops with a violation after this many steps: a livelock (two routers answering
/// each other forever) must fail, not hang.
const MAX_STEPS: u64 = 1_000_000;

impl Sim {
    /// When the next delivery or timer is due, if any.
    pub fn next_event_time(&self) -> Option<Instant> {
        let pkt = self.queue.peek().map(|Reverse(p)| p.at);
        let timer = self
            .nodes
            .iter()
            .filter(|n| n.running)
            .filter_map(|n| n.vr.next_deadline())
            .min();
        match (pkt, timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the simulation up to and including time `end`.
    pub fn run_until(&mut self, end: Instant) {
        loop {
            let next_pkt = self.queue.peek().map(|Reverse(p)| p.at);
            let next_timer = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.running)
                .filter_map(|(i, n)| n.vr.next_deadline().map(|d| (d, i)))
                .min();
            let take_timer = match (next_pkt, next_timer) {
                (None, None) => break,
                (Some(p), Some((d, _))) => d < p,
                (None, Some(_)) => true,
                (Some(_), None) => false,
            };
            let at = if take_timer {
                next_timer.map(|(d, _)| d)
            } else {
                next_pkt
            };
            let Some(at) = at.filter(|&a| a <= end) else {
                break;
            };
            self.advance(at);
            self.steps += 1;
            if self.steps > MAX_STEPS {
                self.violation(format!("more than {MAX_STEPS} steps: livelock"));
                self.queue.clear();
                for n in &mut self.nodes {
                    n.running = false;
                }
                break;
            }
            if take_timer {
                if let Some((_, i)) = next_timer {
                    self.handle_timeout(i);
                }
            } else if let Some(Reverse(p)) = self.queue.pop() {
                self.deliver(p);
            }
            self.after_step();
        }
        self.advance(end);
        self.after_step();
    }

    fn advance(&mut self, to: Instant) {
        if to > self.now {
            self.now = to;
        }
        // Handover deadlines passed without a Master.
        let now = self.now;
        let late: Vec<Handover> = self
            .handovers
            .iter()
            .filter(|h| h.deadline < now)
            .cloned()
            .collect();
        self.handovers.retain(|h| h.deadline >= now);
        for h in late {
            self.violation(format!(
                "after {} of n{} no Master among {:?} by {}",
                h.what, h.from, h.candidates, h.deadline
            ));
        }
    }
}
