//! Reconciliation: from the running set of instances and track scripts to the one a
//! configuration asks for, at start and on every reload.

use std::collections::{BTreeMap, HashMap};

use tracing::{info, warn};

use crate::config::{Config, VrrpInstance, VrrpScript};
use crate::fsm::{self, Event, State};

use super::firewall::Blocked;
use super::groups::GroupRuntime;
use super::instance::{self, AnnounceSockets, Instance};
use super::plan::{self, InstancePlan, TrackReading};
use super::scripts::{self, ScriptPolicy};
use super::status::Counters;
use super::{inputs, link_running, Daemon, DriverError, Running};

/// A changed instance to update in place: its new plan, its state machine's settings with
/// the tracks' current states, the packet sockets of its other interfaces.
type Update = (InstancePlan, fsm::RouterConfig, AnnounceSockets);

/// What an apply changes: instances to start (sockets open) and instances to update.
struct Changes {
    opened: Vec<Instance>,
    updates: Vec<Update>,
}

impl Daemon {
    /// Starts the instances of `config` that are not running with the same settings, stops
    /// those that are gone or changed, and (re)starts the track scripts that changed.
    ///
    /// A changed instance is updated in place, its state kept as keepalived keeps it, when
    /// its sockets stay the same and its state machine can take the new settings (see
    /// [`Instance::can_update_in_place`]); anything else (interface, addresses, peers, VRID,
    /// version, owner status, sync group, a change into or out of FAULT) restarts it.
    pub(super) async fn apply(&mut self, config: Config) -> Result<(), DriverError> {
        // Resolve the script policy, build every new plan and open its sockets first: a
        // failure leaves the running set untouched.
        let policy = ScriptPolicy::from_config(&config)?;
        let changes = self.plan_changes(&config)?;
        let anycast = self.plan_anycast(&config)?;
        // The tracked processes and files counted and read before any instance uses them.
        self.sync_tracking(&config).await?;
        // Scripts run under the new policy from now on; running track scripts restart.
        if policy != self.policy && !self.scripts.is_empty() {
            info!("script user or script security changed: track scripts restart");
            for (_, (_, task)) in self.scripts.drain() {
                task.abort();
            }
        }
        self.policy = policy;
        let carried = self.stop_changed(&config, &changes.updates).await;
        let now = self.now();
        for (plan, router_now, sockets) in changes.updates {
            if let Some(r) = self
                .instances
                .iter_mut()
                .find(|r| r.inst.name() == plan.name)
            {
                r.inst
                    .update_in_place(now, plan, router_now, sockets, &self.vips)
                    .await;
            }
        }
        let mut started = Vec::new();
        for inst in changes.opened {
            started.push(inst.name().to_string());
            self.start_instance(inst, &carried).await;
        }
        self.sync_scripts(&config);
        self.rebuild_groups(&config, &started);
        self.config = config;
        // Instances kept running hear of what the new counts and reads found.
        self.refresh_tracks();
        self.sync_firewall().await;
        // Groups made of running members may agree already (run_all_actions notifies only
        // after observations).
        self.notify_groups();
        self.run_all_actions().await;
        self.apply_anycast(anycast).await;
        Ok(())
    }

    /// What `config` changes in the running set, with every new plan built and its sockets
    /// open: the instances to start, and the changed ones that can be updated in place.
    fn plan_changes(&self, config: &Config) -> Result<Changes, DriverError> {
        let mut plans = Vec::new();
        let mut updates = Vec::new();
        for inst in &config.instances {
            let running = self
                .instances
                .iter()
                .find(|r| r.inst.plan.name == inst.name);
            if running.is_some_and(|r| unchanged(r, inst, config)) {
                continue;
            }
            let mut plan = InstancePlan::build(inst, config)?;
            plan.set_vip_lifetime(self.options.vip_lifetime);
            let router_now = self.router_config_now(&plan);
            match running {
                Some(r) if r.inst.can_update_in_place(&plan, &router_now) => {
                    let sockets = instance::open_announce_others(&plan)?;
                    updates.push((plan, router_now, sockets));
                }
                _ => plans.push(plan),
            }
        }
        let opened = plans
            .into_iter()
            .map(Instance::open)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Changes { opened, updates })
    }

    /// Stops the running instances that `config` drops or changes beyond an update in
    /// place; returns the counters of those that `config` still has, for their restart
    /// (counters only grow).
    async fn stop_changed(
        &mut self,
        config: &Config,
        updates: &[Update],
    ) -> HashMap<String, Counters> {
        let keep: Vec<bool> = self
            .instances
            .iter()
            .map(|r| {
                config
                    .instances
                    .iter()
                    .any(|i| i.name == r.inst.plan.name && unchanged(r, i, config))
                    || updates.iter().any(|(p, _, _)| p.name == r.inst.plan.name)
            })
            .collect();
        let old = std::mem::take(&mut self.instances);
        let mut carried = HashMap::new();
        for (running, keep) in old.into_iter().zip(keep) {
            if keep {
                self.instances.push(running);
            } else {
                let name = running.inst.name().to_string();
                let counters = self.stop_instance(running).await;
                if config.instance(&name).is_some() {
                    carried.insert(name, counters);
                }
            }
        }
        carried
    }

    /// Starts an opened instance: its reader, its link and track states as known now, and
    /// the counters it had before a restart.
    async fn start_instance(&mut self, mut inst: Instance, carried: &HashMap<String, Counters>) {
        if let Some(counters) = carried.get(inst.name()) {
            inst.counters = counters.clone();
        }
        inst.remove_vips(&self.vips).await; // leftovers of a crashed run
        let id = self.next_id;
        self.next_id += 1;
        let reader = inst
            .socket()
            .map(|socket| tokio::spawn(inputs::read_loop(id, socket, self.packets_tx.clone())));
        let now = self.now();
        let link_ok = link_running(&inst.plan.socket.interface);
        if !inst.plan.has_interface() {
            warn!(instance = %inst.name(), interface = %inst.plan.socket.interface,
                  "{}", plan::missing_interface(inst.name(), &inst.plan.socket.interface));
        }
        inst.set_interface_usable(now, link_ok);
        self.link_up
            .insert(inst.plan.socket.interface.clone(), link_ok);
        // Checks that already reported (processes and files always have): their state
        // before the start, so that one failing starts the instance in FAULT, as keepalived
        // does, rather than in BACKUP for a moment.
        inst.update_tracks(now, |source| self.tracked.reading(source));
        inst.router.handle(now, Event::Startup);
        info!(instance = %inst.name(), vrid = inst.plan.router.vrid,
              interface = %inst.plan.socket.interface, "instance started");
        self.instances.push(Running {
            id,
            inst,
            reader,
            attach_error: None,
        });
    }

    /// `plan`'s state-machine settings with each track's state as the driver knows it now
    /// (a script that has not reported keeps its configured initial state), for
    /// [`VirtualRouter::reconfigure`](crate::fsm::VirtualRouter::reconfigure).
    pub(super) fn router_config_now(&self, plan: &InstancePlan) -> fsm::RouterConfig {
        let mut cfg = plan.router.clone();
        for (track, src) in cfg.tracks.iter_mut().zip(&plan.tracks) {
            match self.tracked.reading(src) {
                Some(TrackReading::Up(up)) => track.initially_up = up,
                Some(TrackReading::Value(v)) => track.initial_value = Some(v),
                None => {}
            }
        }
        cfg
    }

    /// The sync group coordinators for `config`, before the start-up actions of the
    /// instances `started` by this apply run.
    ///
    /// A coordinator learns member states only from the actions it is shown, so a group
    /// whose settings and running members did not change keeps its coordinator. Any other
    /// gets a new one, told the current state of the members that kept running (a
    /// transition marked as the group's own, so nothing is propagated); the members just
    /// started report theirs through their start-up actions.
    fn rebuild_groups(&mut self, config: &Config, started: &[String]) {
        let mut old = std::mem::take(&mut self.groups);
        for g in &config.sync_groups {
            let previous = old
                .iter()
                .position(|o| o.config.name == g.name)
                .map(|i| old.swap_remove(i));
            let restarted = g.instances.iter().any(|m| started.contains(m));
            let runtime = match previous {
                Some(p) if p.config.same_settings(g) && !restarted => p,
                previous => {
                    let mut coordinator = fsm::SyncGroup::new(g.instances.len());
                    for (member, name) in g.instances.iter().enumerate() {
                        if started.contains(name) {
                            continue;
                        }
                        if let Some(r) = self.instances.iter().find(|r| r.inst.name() == name) {
                            let seen = fsm::Action::Observe(fsm::Observation::StateChanged {
                                from: State::Initialize,
                                to: r.inst.router.state(),
                                reason: fsm::TransitionReason::SyncGroup,
                            });
                            coordinator.observe(member, &seen);
                        }
                    }
                    GroupRuntime {
                        config: g.clone(),
                        coordinator,
                        // Not notified again for a state it was already notified of.
                        notified: previous.and_then(|p| p.notified),
                    }
                }
            };
            self.groups.push(runtime);
        }
    }

    /// Drops traffic to the VIPs of the instances in no_accept mode that are not the
    /// address owner (keepalived's `no_accept`, the default under `vrrp_strict`).
    async fn sync_firewall(&mut self) {
        let blocked = self
            .instances
            .iter()
            .filter(|r| !r.inst.plan.source.accept && r.inst.plan.router.priority != 255)
            .map(|r| Blocked {
                instance: r.inst.name().to_string(),
                addrs: r.inst.plan.vips.iter().map(|v| v.addr).collect(),
            })
            .collect();
        self.firewall.sync(blocked).await;
    }

    /// Runs the `vrrp_script`s some instance or `anycast_route` tracks, restarting those whose settings changed.
    fn sync_scripts(&mut self, config: &Config) {
        let wanted: BTreeMap<&str, &VrrpScript> = config
            .scripts
            .iter()
            .filter(|s| {
                config
                    .instances
                    .iter()
                    .flat_map(|i| &i.track_scripts)
                    .chain(config.anycast_routes.iter().flat_map(|a| &a.track_scripts))
                    .any(|t| t.name == s.name)
            })
            .map(|s| (s.name.as_str(), s))
            .collect();
        self.scripts.retain(|name, (script, task)| {
            let keep = wanted
                .get(name.as_str())
                .is_some_and(|w| w.same_settings(script));
            if !keep {
                task.abort();
            }
            keep
        });
        for (name, script) in wanted {
            if !self.scripts.contains_key(name) {
                self.tracked.scripts.remove(name);
                let task = tokio::spawn(scripts::track_script(
                    script.clone(),
                    self.policy.clone(),
                    self.scripts_tx.clone(),
                ));
                self.scripts
                    .insert(name.to_string(), (script.clone(), task));
            }
        }
    }

    /// Stops an instance (priority 0 from a Master, VIPs removed, STOP notify); returns its
    /// final counters.
    pub(super) async fn stop_instance(&mut self, mut running: Running) -> Counters {
        let actions = self.begin_stop(&mut running).await;
        self.end_stop(running, actions).await
    }

    /// The first half of [`Driver::stop_instance`]: the state machine's shutdown (a Master
    /// sends priority 0); the VIPs stay if the instance holds them (`hold_vips`).
    pub(super) async fn begin_stop(&mut self, running: &mut Running) -> Vec<fsm::Action> {
        let now = self.now();
        running.inst.router.handle(now, Event::Shutdown);
        running.inst.run_actions(&self.vips).await
    }

    /// The second half: VIPs removed, reader stopped, STOP notify.
    pub(super) async fn end_stop(
        &mut self,
        mut running: Running,
        actions: Vec<fsm::Action>,
    ) -> Counters {
        running.inst.hold_vips = false;
        running.inst.remove_vips(&self.vips).await;
        if let Some(reader) = running.reader {
            reader.abort();
        }
        let name = running.inst.name().to_string();
        let prio = running.inst.router.priority();
        for action in actions {
            if let fsm::Action::Notify { state } = action {
                self.run_notify(&name, state, prio);
            }
        }
        info!(instance = %running.inst.name(), "instance stopped");
        running.inst.counters()
    }
}

/// Whether running instance `r` already runs `inst` of `config`: the same block and the same
/// tracked checks (a script, process, file or sync group can change those on its own).
fn unchanged(r: &Running, inst: &VrrpInstance, config: &Config) -> bool {
    r.inst.plan.source.same_settings(inst) && r.inst.plan.same_tracks(inst, config)
}
