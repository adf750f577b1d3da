//! How the state changes: the transitions of RFC 9568 §6.4 (Initialize, Backup, Master)
//! and keepalived's Fault, from startup, shutdown, faults, tracked checks and sync-group
//! commands.

use super::VirtualRouter;
use crate::fsm::config::InitialState;
use crate::fsm::rules::{track_offset, tracked_priority, Level, OWNER_PRIORITY};
use crate::fsm::time::{Duration, Instant};
use crate::fsm::timer::Timer;
use crate::fsm::types::{
    Action, FaultSource, GarpReason, Ignored, Observation, State, SyncCommand, TrackId,
    TransitionReason,
};

impl VirtualRouter {
    fn set_state(&mut self, to: State, reason: TransitionReason) {
        let from = self.state;
        self.state = to;
        self.stats.transition(from, to);
        // Readiness only means something while waiting in Backup.
        self.ready_for_master = false;
        self.observe(Observation::StateChanged { from, to, reason });
    }

    /// Master_Down_Timer expired (RFC 9568 §6.4.2): a Backup becomes Master, or, in a sync
    /// group, says it is ready and waits for its group.
    pub(super) fn master_down_expired(&mut self, now: Instant) {
        if self.state == State::Backup {
            if self.cfg.sync_group_member {
                self.set_ready(true);
            } else {
                self.become_master(now, TransitionReason::MasterDown);
            }
        }
    }

    pub(super) fn become_master(&mut self, now: Instant, reason: TransitionReason) {
        self.set_state(State::Master, reason);
        self.timers.stop(Timer::MasterDown);
        self.preempt_until = None;
        // Addresses first so the GARPs that follow announce something that answers.
        self.push(Action::InstallVips);
        self.send_advert(now);
        self.push(Action::SendGarp {
            count: self.cfg.garp.master_repeat,
            reason: GarpReason::Transition,
        });
        let g = self.cfg.garp;
        let delay = (g.master_delay > Duration::ZERO).then(|| now + g.master_delay);
        let refresh = (g.master_refresh > Duration::ZERO).then(|| now + g.master_refresh);
        self.timers.set_or_stop(Timer::GarpDelay, delay);
        self.timers.set_or_stop(Timer::GarpRefresh, refresh);
        self.push(Action::Notify {
            state: State::Master,
        });
    }

    /// Leaves Master for `to`: cancels Master timers, sends priority 0 unless another Master
    /// already took over (`to == Backup`), and always removes the addresses.
    fn leave_master(&mut self, to: State, reason: TransitionReason) {
        self.set_state(to, reason);
        self.timers.stop(Timer::Adver);
        self.timers.stop(Timer::GarpDelay);
        self.timers.stop(Timer::GarpRefresh);
        self.timers.stop(Timer::GarpLowerPriority);
        if to != State::Backup {
            self.push(Action::SendAdvert {
                priority: 0,
                max_advert_interval: self.packet_interval(),
            });
        }
        self.push(Action::RemoveVips);
    }

    pub(super) fn become_backup(&mut self, now: Instant, reason: TransitionReason) {
        match self.state {
            State::Master => self.leave_master(State::Backup, reason),
            _ => self.set_state(State::Backup, reason),
        }
        self.timers
            .set(Timer::MasterDown, now + self.master_down_interval());
        self.push(Action::Notify {
            state: State::Backup,
        });
    }

    fn become_fault(&mut self, reason: TransitionReason) {
        match self.state {
            State::Master => self.leave_master(State::Fault, reason),
            _ => self.set_state(State::Fault, reason),
        }
        self.timers.stop(Timer::MasterDown);
        self.preempt_until = None;
        self.push(Action::Notify {
            state: State::Fault,
        });
    }

    /// Initialize (or a cleared Fault) to the running state the RFC and keepalived choose.
    fn start_running(&mut self, now: Instant, backup_reason: TransitionReason) {
        // Backups start by assuming a Master with their own interval (RFC 5798 6.4.1).
        self.master_adver_interval_cs = self.cfg.advert_interval_cs;
        if self.priority == OWNER_PRIORITY {
            self.become_master(now, TransitionReason::OwnerStartup);
        } else if self.cfg.initial_state == InitialState::Master
            && backup_reason == TransitionReason::Startup
        {
            self.become_master(now, TransitionReason::InitialMaster);
        } else {
            self.become_backup(now, backup_reason);
        }
    }

    pub(super) fn startup(&mut self, now: Instant) {
        if self.state != State::Initialize {
            self.observe(Observation::EventIgnored {
                state: self.state,
                what: Ignored::Startup,
            });
            return;
        }
        if self.faults.any() {
            let src = self.first_fault_source();
            self.become_fault(TransitionReason::Fault(src));
        } else {
            self.start_running(now, TransitionReason::Startup);
        }
    }

    pub(super) fn shutdown(&mut self) {
        match self.state {
            State::Initialize => {
                self.observe(Observation::EventIgnored {
                    state: self.state,
                    what: Ignored::Shutdown,
                });
                return;
            }
            State::Master => self.leave_master(State::Initialize, TransitionReason::Shutdown),
            State::Backup | State::Fault => {
                self.set_state(State::Initialize, TransitionReason::Shutdown)
            }
        }
        self.timers.stop(Timer::MasterDown);
        self.preempt_until = None;
        self.push(Action::Notify {
            state: State::Initialize,
        });
    }

    /// Tracked check `id` is now in state `level`: the priority follows its offset, and a
    /// change into or out of a faulting state sets or clears its fault.
    pub(super) fn track(&mut self, now: Instant, id: TrackId, level: Level) {
        let i = usize::from(id.0);
        let (Some(cfg), Some(&was)) = (self.cfg.tracks.get(i), self.levels.get(i)) else {
            self.observe(Observation::EventIgnored {
                state: self.state,
                what: Ignored::UnknownTrack(id),
            });
            return;
        };
        if was == level {
            return;
        }
        let weight = cfg.weight;
        if let Some(slot) = self.levels.get_mut(i) {
            *slot = level;
        }
        let was_fault = track_offset(weight, was).is_none();
        let is_fault = track_offset(weight, level).is_none();
        let new = tracked_priority(&self.cfg, &self.levels);
        let priority_changed = new != self.priority;
        if priority_changed {
            self.observe(Observation::PriorityChanged {
                from: self.priority,
                to: new,
            });
            self.priority = new;
        }
        if was_fault != is_fault {
            // The transition into or out of Fault advertises what it has to.
            self.set_fault(now, FaultSource::Track(id), is_fault);
        } else if priority_changed && self.state == State::Master {
            // Tell the Backups now rather than at the next interval: a preempting Backup
            // that is now higher takes over one Master_Down_Interval sooner.
            self.send_advert(now);
        }
    }

    fn first_fault_source(&self) -> FaultSource {
        if self.faults.interface {
            FaultSource::Interface
        } else if self.faults.tracks > 0 {
            let id = self
                .cfg
                .tracks
                .iter()
                .zip(&self.levels)
                .position(|(t, level)| track_offset(t.weight, *level).is_none())
                .and_then(|i| u16::try_from(i).ok())
                .unwrap_or(0);
            FaultSource::Track(TrackId(id))
        } else if self.faults.external {
            FaultSource::External
        } else {
            FaultSource::SyncGroup
        }
    }

    pub(super) fn set_fault(&mut self, now: Instant, source: FaultSource, active: bool) {
        let was = self.faults.any();
        let changed = match source {
            FaultSource::Interface => {
                std::mem::replace(&mut self.faults.interface, active) != active
            }
            FaultSource::External => std::mem::replace(&mut self.faults.external, active) != active,
            FaultSource::SyncGroup => std::mem::replace(&mut self.faults.sync, active) != active,
            FaultSource::Track(_) => {
                // `track` only calls this when a check moves into or out of faulting.
                if active {
                    self.faults.tracks += 1;
                } else {
                    self.faults.tracks = self.faults.tracks.saturating_sub(1);
                }
                true
            }
        };
        if !changed {
            return;
        }
        self.observe(Observation::FaultChanged { source, active });
        let is = self.faults.any();
        match (self.state, was, is) {
            (State::Backup | State::Master, _, true) => {
                self.become_fault(TransitionReason::Fault(source))
            }
            (State::Fault, true, false) => self.start_running(now, TransitionReason::FaultCleared),
            _ => {}
        }
    }

    pub(super) fn sync(&mut self, now: Instant, cmd: SyncCommand) {
        match (cmd, self.state) {
            (SyncCommand::BecomeMaster, State::Backup) => {
                self.become_master(now, TransitionReason::SyncGroup)
            }
            (SyncCommand::BecomeBackup, State::Master) => {
                self.become_backup(now, TransitionReason::SyncGroup)
            }
            (SyncCommand::Fault, _) => self.set_fault(now, FaultSource::SyncGroup, true),
            (SyncCommand::FaultCleared, _) => self.set_fault(now, FaultSource::SyncGroup, false),
            _ => self.observe(Observation::EventIgnored {
                state: self.state,
                what: Ignored::Sync(cmd),
            }),
        }
    }
}
