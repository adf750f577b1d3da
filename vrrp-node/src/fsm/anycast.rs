//! Whether an `anycast_route` is announced, from its tracked checks: keepalived's rules for
//! an instance's tracks (see [`track_offset`]) with no election. A check holding it in
//! what would be an instance's Fault (a weight-0 check failing, a `track_file` whose
//! weighted value is -254) withdraws the route; otherwise it is announced with the
//! effective priority (base plus weights, clamped to 1..=254; 255 stays 255) as its metric,
//! `255 - priority`, which FRR's `redistribute kernel` carries as the MED. Sans-IO: the
//! driver reads the checks and installs or deletes the kernel route.

use super::config::TrackConfig;
use super::rules::{track_offset, Level, OWNER_PRIORITY};
use super::types::TrackId;

/// What the route's checks say now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Announcement {
    /// Every check allows it: the route is installed with this metric.
    Announced {
        /// The effective priority.
        priority: u8,
        /// The kernel route's metric (`255 - priority`): a lower priority, a higher MED.
        metric: u32,
    },
    /// At least one check withdraws it.
    Withdrawn {
        /// How many checks withdraw it.
        failing: u32,
    },
}

impl Announcement {
    /// Whether the route is to be in the kernel (and so announced).
    pub fn is_announced(self) -> bool {
        matches!(self, Announcement::Announced { .. })
    }

    /// The metric of the route to install, `None` for none: what the kernel is to hold.
    pub fn route_metric(self) -> Option<u32> {
        match self {
            Announcement::Announced { metric, .. } => Some(metric),
            Announcement::Withdrawn { .. } => None,
        }
    }
}

/// The metric of a route announced with `priority`.
///
/// ```
/// use vrrp_node::fsm::anycast::metric_for;
/// assert_eq!(metric_for(100), 155);
/// assert_eq!(metric_for(255), 0);
/// ```
pub const fn metric_for(priority: u8) -> u32 {
    255 - priority as u32
}

/// One anycast route's checks and what they last said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnycastHealth {
    priority: u8,
    tracks: Vec<TrackConfig>,
    levels: Vec<Level>,
}

impl AnycastHealth {
    /// A route with base `priority` and `tracks`, each in its initial state.
    pub fn new(priority: u8, tracks: Vec<TrackConfig>) -> AnycastHealth {
        let levels = tracks.iter().map(Level::initial).collect();
        AnycastHealth {
            priority,
            tracks,
            levels,
        }
    }

    /// A pass/fail check reported; returns whether the route to install changed (see
    /// [`Announcement::route_metric`]).
    pub fn set_up(&mut self, id: TrackId, up: bool) -> bool {
        self.set(id, Level::Up(up))
    }

    /// A value check (a `track_file`) reported; returns whether the route to install
    /// changed.
    pub fn set_value(&mut self, id: TrackId, value: i32) -> bool {
        self.set(id, Level::Value(value))
    }

    fn set(&mut self, id: TrackId, level: Level) -> bool {
        let before = self.announcement().route_metric();
        let is_value = self
            .tracks
            .get(usize::from(id.0))
            .is_some_and(|t| t.initial_value.is_some());
        // A report of the other kind than the check is (a driver bug) changes nothing.
        if matches!(level, Level::Value(_)) != is_value {
            return false;
        }
        if let Some(l) = self.levels.get_mut(usize::from(id.0)) {
            *l = level;
        }
        self.announcement().route_metric() != before
    }

    /// What the checks say now.
    pub fn announcement(&self) -> Announcement {
        let mut sum = 0i32;
        let mut failing = 0u32;
        for (t, level) in self.tracks.iter().zip(&self.levels) {
            match track_offset(t.weight, *level) {
                Some(offset) => sum += offset,
                None => failing += 1,
            }
        }
        if failing > 0 {
            return Announcement::Withdrawn { failing };
        }
        let priority = if self.priority == OWNER_PRIORITY {
            OWNER_PRIORITY
        } else {
            // Clamped, so the cast cannot truncate.
            (i32::from(self.priority) + sum).clamp(1, 254) as u8
        };
        Announcement::Announced {
            priority,
            metric: metric_for(priority),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announced(priority: u8) -> Announcement {
        Announcement::Announced {
            priority,
            metric: metric_for(priority),
        }
    }

    #[test]
    fn a_weight_0_check_failing_withdraws_and_passing_again_announces() {
        let mut h = AnycastHealth::new(100, vec![TrackConfig::new(0), TrackConfig::new(0)]);
        assert_eq!(h.announcement(), announced(100));
        assert!(h.set_up(TrackId(1), false));
        assert_eq!(h.announcement(), Announcement::Withdrawn { failing: 1 });
        assert!(!h.set_up(TrackId(0), true), "nothing changed");
        assert!(!h.set_up(TrackId(0), false), "still withdrawn, by two now");
        assert_eq!(h.announcement(), Announcement::Withdrawn { failing: 2 });
        h.set_up(TrackId(0), true);
        assert!(h.set_up(TrackId(1), true));
        assert_eq!(h.announcement(), announced(100));
    }

    #[test]
    fn weights_move_the_priority_and_so_the_metric_as_keepalived_s_do() {
        let tracks = vec![TrackConfig::new(-30), TrackConfig::new(20)];
        let mut h = AnycastHealth::new(100, tracks);
        // +20 counts while up, -30 while down.
        assert_eq!(h.announcement(), announced(120));
        h.set_up(TrackId(0), false);
        assert_eq!(h.announcement(), announced(90));
        assert_eq!(metric_for(90), 165);
        let mut low = AnycastHealth::new(10, vec![TrackConfig::new(-50)]);
        low.set_up(TrackId(0), false);
        assert_eq!(low.announcement(), announced(1), "clamped, never withdrawn");
        let mut owner = AnycastHealth::new(255, vec![TrackConfig::new(-50)]);
        owner.set_up(TrackId(0), false);
        assert_eq!(owner.announcement(), announced(255));
    }

    #[test]
    fn a_maintenance_file_withdraws_while_it_holds_a_value_other_than_0() {
        // `track_file maint { weight 0 }`: any value but 0 faults, as in keepalived.
        let mut h = AnycastHealth::new(100, vec![TrackConfig::value(0, 0)]);
        assert!(h.announcement().is_announced());
        assert!(h.set_value(TrackId(0), 1));
        assert!(!h.announcement().is_announced());
        assert!(h.set_value(TrackId(0), 0));
        // A weighted file: value × weight, -254 withdrawing.
        let mut w = AnycastHealth::new(100, vec![TrackConfig::value(-10, 0)]);
        w.set_value(TrackId(0), 3);
        assert_eq!(w.announcement(), announced(70));
        w.set_value(TrackId(0), 100);
        assert_eq!(w.announcement(), Announcement::Withdrawn { failing: 1 });
    }

    #[test]
    fn a_report_of_the_wrong_kind_or_an_unknown_check_changes_nothing() {
        let mut h = AnycastHealth::new(100, vec![TrackConfig::new(0)]);
        assert!(!h.set_value(TrackId(0), 5));
        assert!(!h.set_up(TrackId(7), false));
        assert!(h.announcement().is_announced());
    }

    #[test]
    fn a_check_that_starts_failing_starts_withdrawn() {
        let mut t = TrackConfig::new(0);
        t.initially_up = false;
        let h = AnycastHealth::new(100, vec![t]);
        assert_eq!(h.announcement(), Announcement::Withdrawn { failing: 1 });
    }
}
