//! Sync groups (keepalived's `vrrp_sync_group`): every member's actions shown to its
//! group's coordinator, the coordinator's commands handed back, the group's notify scripts.

use tracing::{info, warn};

use crate::config;
use crate::fsm::{self, Event, State};

use super::Daemon;

/// A `vrrp_sync_group` and the state machine's coordinator for it.
pub(super) struct GroupRuntime {
    pub(super) config: config::SyncGroup,
    pub(super) coordinator: fsm::SyncGroup,
    /// The state last notified for the group as a whole.
    pub(super) notified: Option<State>,
}

impl Daemon {
    /// Drains every instance's actions, shows them to the sync group coordinators, and
    /// delivers the coordinators' commands, until nothing more happens.
    pub(super) async fn run_all_actions(&mut self) {
        // Each round can only follow commands of the one before, and the coordinator does not
        // propagate command-caused transitions again: a few rounds always settle.
        for _round in 0..8 {
            let mut notify = Vec::new();
            let mut observed = false;
            for r in &mut self.instances {
                let actions = r.inst.run_actions(&self.vips).await;
                // Only observations matter to the coordinators (not the adverts, which are
                // nearly every action): each goes to the groups that have this instance.
                for action in &actions {
                    match action {
                        fsm::Action::Notify { state } => notify.push((
                            r.inst.name().to_string(),
                            *state,
                            r.inst.router.priority(),
                        )),
                        fsm::Action::Observe(_) => {
                            observed = true;
                            let name = r.inst.name();
                            for g in &mut self.groups {
                                if let Some(member) =
                                    g.config.instances.iter().position(|m| m == name)
                                {
                                    g.coordinator.observe(member, action);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            for (name, state, prio) in notify {
                self.run_notify(&name, state, prio);
            }
            // A group's state changes only with its members' observations.
            if observed {
                self.notify_groups();
            }
            if !self.deliver_sync_commands() {
                return;
            }
        }
        warn!("sync group commands did not settle after 8 rounds");
    }

    /// Hands every pending coordinator command to its member; returns whether any was.
    fn deliver_sync_commands(&mut self) -> bool {
        let now = self.now();
        let mut delivered = false;
        for g in &mut self.groups {
            while let Some((member, cmd)) = g.coordinator.poll_command() {
                let Some(name) = g.config.instances.get(member) else {
                    continue;
                };
                if let Some(r) = self.instances.iter_mut().find(|r| r.inst.name() == name) {
                    info!(group = %g.config.name, instance = %name, ?cmd, "sync group command");
                    r.inst.router.handle(now, Event::Sync(cmd));
                    delivered = true;
                }
            }
        }
        delivered
    }

    /// Runs a group's notify scripts when all its members agree on a new state.
    pub(super) fn notify_groups(&mut self) {
        let mut due = Vec::new();
        for g in &mut self.groups {
            let states: Vec<Option<State>> = (0..g.config.instances.len())
                .map(|m| g.coordinator.member_state(m))
                .collect();
            let Some(Some(first)) = states.first().copied() else {
                continue;
            };
            if states.iter().all(|s| *s == Some(first)) && g.notified != Some(first) {
                g.notified = Some(first);
                due.push((g.config.name.clone(), g.config.notify.clone(), first));
            }
        }
        for (name, notify, state) in due {
            self.run_group_notify(&name, &notify, state);
        }
    }
}
