//! One log line per period for an event that can repeat thousands of times a second (a
//! dead server refusing every connect until its check marks it down, a full file table
//! failing every accept), carrying the count of the occurrences not logged. Lock-free, so
//! it can sit in a structure every thread shares.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The state of one throttled log line.
#[derive(Debug, Default)]
pub struct Throttle {
    /// Milliseconds ([`crate::stats::counters::now_ms`]) from which the next line may go.
    next_ms: AtomicU64,
    unlogged: AtomicU64,
}

impl Throttle {
    /// At `now_ms`: `Some(occurrences not logged since the last line)` when a line is due
    /// (at most one per `period_ms`), else `None` and the occurrence is counted.
    pub fn admit(&self, now_ms: u64, period_ms: u64) -> Option<u64> {
        let next = self.next_ms.load(Relaxed);
        let due = now_ms >= next
            && self
                .next_ms
                .compare_exchange(next, now_ms.saturating_add(period_ms), Relaxed, Relaxed)
                .is_ok();
        if due {
            Some(self.unlogged.swap(0, Relaxed))
        } else {
            self.unlogged.fetch_add(1, Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_period_with_the_count_it_stands_for() {
        let t = Throttle::default();
        assert_eq!(t.admit(1_000, 1_000), Some(0));
        let dropped = (1..=500)
            .filter(|i| t.admit(1_000 + i, 1_000).is_none())
            .count();
        assert_eq!(dropped, 500);
        assert_eq!(t.admit(1_999, 1_000), None);
        assert_eq!(t.admit(2_000, 1_000), Some(501));
        assert_eq!(t.admit(2_001, 1_000), None);
    }
}
