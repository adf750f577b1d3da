//! Sync groups: instances that change state together (keepalived's `vrrp_sync_group`).

use std::collections::VecDeque;

use super::types::{Action, FaultSource, Observation, State, SyncCommand, TransitionReason};

/// Coordinates the members of one sync group.
///
/// The driver shows it every action of every member ([`observe`](Self::observe)) and hands
/// each command from [`poll_command`](Self::poll_command) to the named member as
/// [`Event::Sync`](super::Event::Sync), then shows the actions that produced too, until no
/// command is left. Rules (keepalived's):
///
/// - a member with a fault of its own puts every member in Fault until no member has one;
/// - members with [`RouterConfig::sync_group_member`](super::RouterConfig::sync_group_member)
///   wait when their Master_Down_Timer expires; once no Backup member is still hearing a
///   Master, every Backup member becomes Master;
/// - a member that becomes Master by itself makes every Backup member Master;
/// - a Master member that falls back to Backup by itself makes every Master member Backup.
///
/// Transitions a member makes because of a [`SyncCommand`] are not propagated again, so the
/// exchange always ends.
///
/// Without `sync_group_member` set on the members, a member whose timer expires goes Master
/// at once and drags the others along, even if their own Masters are still alive.
#[derive(Debug, Clone)]
pub struct SyncGroup {
    states: Vec<State>,
    ready: Vec<bool>,
    /// Own (not sync-group) fault sources active per member.
    own_faults: Vec<u32>,
    group_fault: bool,
    pending: VecDeque<(usize, SyncCommand)>,
}

impl SyncGroup {
    /// A group of `members` instances, numbered from 0, all in Initialize.
    pub fn new(members: usize) -> Self {
        SyncGroup {
            states: vec![State::Initialize; members],
            ready: vec![false; members],
            own_faults: vec![0; members],
            group_fault: false,
            pending: VecDeque::new(),
        }
    }

    /// The state of `member` as last observed.
    pub fn member_state(&self, member: usize) -> Option<State> {
        self.states.get(member).copied()
    }

    /// Whether some member has a fault of its own.
    pub fn is_faulted(&self) -> bool {
        self.group_fault
    }

    /// Takes note of one action `member` emitted. Unknown members are ignored.
    pub fn observe(&mut self, member: usize, action: &Action) {
        let Action::Observe(obs) = action else {
            return;
        };
        if member >= self.states.len() {
            return;
        }
        match *obs {
            Observation::FaultChanged { source, active } if source != FaultSource::SyncGroup => {
                if let Some(n) = self.own_faults.get_mut(member) {
                    *n = if active {
                        n.saturating_add(1)
                    } else {
                        n.saturating_sub(1)
                    };
                }
                let now_faulted = self.own_faults.iter().any(|&n| n > 0);
                if now_faulted != self.group_fault {
                    self.group_fault = now_faulted;
                    let cmd = if now_faulted {
                        SyncCommand::Fault
                    } else {
                        SyncCommand::FaultCleared
                    };
                    for m in 0..self.states.len() {
                        self.pending.push_back((m, cmd));
                    }
                }
            }
            Observation::MasterDownReady { ready } => {
                if let Some(r) = self.ready.get_mut(member) {
                    *r = ready;
                }
                self.maybe_all_ready();
            }
            Observation::StateChanged { from, to, reason } => {
                if let Some(s) = self.states.get_mut(member) {
                    *s = to;
                }
                if let Some(r) = self.ready.get_mut(member) {
                    *r = false;
                }
                if reason == TransitionReason::SyncGroup {
                    return;
                }
                let (follow, cmd) = match (from, to) {
                    (State::Backup, State::Master) => (State::Backup, SyncCommand::BecomeMaster),
                    (State::Master, State::Backup) => (State::Master, SyncCommand::BecomeBackup),
                    _ => return,
                };
                for (m, s) in self.states.iter().enumerate() {
                    if m != member && *s == follow {
                        self.pending.push_back((m, cmd));
                    }
                }
            }
            _ => {}
        }
    }

    /// Every Backup member ready (and at least one): all of them become Master.
    fn maybe_all_ready(&mut self) {
        let mut any = false;
        for (s, r) in self.states.iter().zip(&self.ready) {
            if *s == State::Backup {
                if !*r {
                    return;
                }
                any = true;
            }
        }
        if !any {
            return;
        }
        for (m, s) in self.states.iter().enumerate() {
            if *s == State::Backup {
                self.pending.push_back((m, SyncCommand::BecomeMaster));
            }
        }
    }

    /// The next command for a member: `(member index, command)`.
    pub fn poll_command(&mut self) -> Option<(usize, SyncCommand)> {
        self.pending.pop_front()
    }
}
