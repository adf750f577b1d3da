//! The sans-IO rise/fall state machine.

use std::time::Duration;

use crate::Timing;

/// A state change reported by [`Tracker::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The check went UP (after `rise` consecutive successes).
    Up,
    /// The check went DOWN (after `fall` consecutive failures).
    Down,
}

/// Counts consecutive results and decides UP/DOWN transitions and the next interval.
///
/// No clock, no I/O: feed results with [`Tracker::record`], ask [`Tracker::next_interval`].
#[derive(Debug, Clone)]
pub struct Tracker {
    timing: Timing,
    up: bool,
    /// Consecutive results against the current state (failures while UP, successes while DOWN).
    streak: u32,
}

impl Tracker {
    /// A tracker starting in the given state.
    pub fn new(timing: Timing, initially_up: bool) -> Tracker {
        Tracker {
            timing,
            up: initially_up,
            streak: 0,
        }
    }

    /// A tracker as HAProxy starts a checked server: UP, but one failure from DOWN (its
    /// health at `rise`, not at `rise + fall - 1`), so a dead server is out of rotation
    /// after the first check rather than after `fall` of them.
    pub fn up_at_rise(timing: Timing) -> Tracker {
        Tracker {
            timing,
            up: true,
            streak: timing.fall.max(1) - 1,
        }
    }

    /// Whether the state is UP.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Records one check result; returns the transition it caused, if any.
    pub fn record(&mut self, success: bool) -> Option<Transition> {
        if success == self.up {
            // A result confirming the current state resets a transition in progress.
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let threshold = if self.up {
            self.timing.fall
        } else {
            self.timing.rise
        };
        if self.streak >= threshold.max(1) {
            self.up = success;
            self.streak = 0;
            Some(if success {
                Transition::Up
            } else {
                Transition::Down
            })
        } else {
            None
        }
    }

    /// HAProxy's health counter: `rise + fall - 1` when fully UP, down by one per failure;
    /// 0 when fully DOWN, up by one per success.
    pub fn health(&self) -> u32 {
        if self.up {
            (self.timing.rise.max(1) + self.timing.fall.max(1) - 1).saturating_sub(self.streak)
        } else {
            self.streak
        }
    }

    /// How long to wait before the next check (`inter`, `fastinter` or `downinter`).
    pub fn next_interval(&self) -> Duration {
        if self.streak > 0 {
            self.timing.fastinter
        } else if self.up {
            self.timing.inter
        } else {
            self.timing.downinter
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing {
            inter: Duration::from_secs(2),
            fastinter: Duration::from_millis(500),
            downinter: Duration::from_secs(5),
            timeout: Duration::from_secs(1),
            rise: 2,
            fall: 3,
        }
    }

    #[test]
    fn fall_then_rise() {
        let mut t = Tracker::new(timing(), true);
        assert_eq!(t.next_interval(), Duration::from_secs(2));
        assert_eq!(t.record(false), None);
        assert_eq!(t.next_interval(), Duration::from_millis(500));
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), Some(Transition::Down));
        assert!(!t.is_up());
        assert_eq!(t.next_interval(), Duration::from_secs(5));
        assert_eq!(t.record(true), None);
        assert_eq!(t.next_interval(), Duration::from_millis(500));
        assert_eq!(t.record(true), Some(Transition::Up));
        assert!(t.is_up());
    }

    #[test]
    fn health_counts_down_to_a_fall_and_up_to_a_rise_as_haproxys() {
        // rise 2, fall 3: UP at 4, DOWN after 3 failures, UP again after 2 successes.
        let mut t = Tracker::new(timing(), true);
        let mut seen = vec![t.health()];
        for ok in [false, false, false, true, true] {
            t.record(ok);
            seen.push(t.health());
        }
        assert_eq!(seen, [4, 3, 2, 0, 1, 4]);
    }

    #[test]
    fn a_server_starting_at_rise_goes_down_on_the_first_failure() {
        let mut t = Tracker::up_at_rise(timing());
        assert_eq!(t.health(), 2, "rise");
        assert_eq!(t.record(false), Some(Transition::Down));
        let mut t = Tracker::up_at_rise(timing());
        assert_eq!(t.record(true), None);
        assert_eq!(t.health(), 4, "a success confirms it fully");
    }

    #[test]
    fn interrupted_streak_resets() {
        let mut t = Tracker::new(timing(), true);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert!(t.is_up());
        assert_eq!(t.record(false), Some(Transition::Down));
    }

    #[test]
    fn zero_thresholds_act_as_one() {
        let mut t = Tracker::new(
            Timing {
                rise: 0,
                fall: 0,
                ..timing()
            },
            false,
        );
        assert_eq!(t.record(true), Some(Transition::Up));
        assert_eq!(t.record(false), Some(Transition::Down));
    }
}
