//! When a server or a backend last went UP or DOWN, and how long it has been DOWN in all:
//! HAProxy's `lastchg` and `downtime`, kept the same way for both.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::stats::counters::now_ms;

/// The UP/DOWN history of one server or backend ([`now_ms`] milliseconds).
#[derive(Debug)]
pub(super) struct UpDownClock {
    /// When the state last changed.
    changed_at: AtomicU64,
    /// Milliseconds spent DOWN before the current state.
    downtime_ms: AtomicU64,
}

impl UpDownClock {
    /// A clock whose current state starts now.
    pub(super) fn new() -> UpDownClock {
        UpDownClock {
            changed_at: AtomicU64::new(now_ms()),
            downtime_ms: AtomicU64::new(0),
        }
    }

    /// The state just changed to `up`: a DOWN period that ends is added to the downtime.
    pub(super) fn changed(&self, up: bool) {
        let now = now_ms();
        let since = self.changed_at.swap(now, Ordering::Relaxed);
        if up {
            self.downtime_ms
                .fetch_add(now.saturating_sub(since), Ordering::Relaxed);
        }
    }

    /// Milliseconds since the state last changed.
    pub(super) fn since_change_ms(&self, now: u64) -> u64 {
        now.saturating_sub(self.changed_at.load(Ordering::Relaxed))
    }

    /// Milliseconds spent DOWN in total, the current period included when `up` is false.
    pub(super) fn downtime_ms(&self, now: u64, up: bool) -> u64 {
        let before = self.downtime_ms.load(Ordering::Relaxed);
        if up {
            before
        } else {
            before + self.since_change_ms(now)
        }
    }
}
