//! The tokio driver: joins the state machines to sockets, timers, netlink, scripts, link
//! state and the status endpoint, and handles reload and shutdown.
//!
//! One task runs every instance, so that sync groups and reloads see a consistent set.
//! Socket readers and track scripts run in their own tasks and report over channels.

pub mod firewall;
pub mod instance;
pub mod scripts;
pub mod status;
mod timer;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::config::{self, Config, LoadedConfig, VrrpScript};
use crate::fsm::{self, Event, State};
use crate::net::RecvMeta;
use crate::vip::VipManager;

use firewall::{Blocked, Firewall};
use instance::{Instance, InstancePlan, TrackSource};
use scripts::{ScriptPolicy, ScriptReport};
use status::DaemonStatus;

/// Why the daemon could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// An instance could not be set up.
    #[error("instance {instance}: {what}")]
    Instance {
        /// Instance name.
        instance: String,
        /// What went wrong.
        what: String,
    },
    /// Netlink could not be opened.
    #[error(transparent)]
    Vip(#[from] crate::vip::VipError),
    /// Script settings are unusable.
    #[error("scripts: {0}")]
    Scripts(String),
    /// The status endpoint could not be bound.
    #[error("status endpoint {addr}: {source}")]
    Status {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Commands to a running daemon (from signals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Re-read the configuration file (SIGHUP).
    Reload,
    /// Stop: priority 0 from masters, VIPs removed (SIGTERM/SIGINT).
    Shutdown,
}

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The configuration file, re-read on reload.
    pub config_path: PathBuf,
    /// Where to serve the JSON status, if anywhere.
    pub status_addr: Option<SocketAddr>,
    /// How often interface state is polled.
    pub link_poll: Duration,
}

/// A datagram read by a socket task, tagged with the instance generation it belongs to.
struct Datagram {
    instance: u64,
    bytes: Vec<u8>,
    meta: RecvMeta,
    /// When it arrived (the kernel's timestamp, on the monotonic clock): the
    /// Master_Down_Timer runs from the advert's arrival, not from when the loop gets to it.
    received: std::time::Instant,
}

struct Running {
    id: u64,
    inst: Instance,
    reader: JoinHandle<()>,
}

/// A `vrrp_sync_group` and the state machine's coordinator for it.
struct GroupRuntime {
    config: config::SyncGroup,
    coordinator: fsm::SyncGroup,
    /// The state last notified for the group as a whole.
    notified: Option<State>,
}

/// The daemon's state between events.
struct Daemon {
    options: Options,
    config: Config,
    start: std::time::Instant,
    vips: VipManager,
    firewall: Firewall,
    policy: ScriptPolicy,
    instances: Vec<Running>,
    next_id: u64,
    packets_tx: mpsc::Sender<Datagram>,
    scripts_tx: mpsc::Sender<ScriptReport>,
    scripts: HashMap<String, (VrrpScript, JoinHandle<()>)>,
    script_state: HashMap<String, bool>,
    link_up: HashMap<String, bool>,
    status: watch::Sender<DaemonStatus>,
    groups: Vec<GroupRuntime>,
    notifies: Vec<JoinHandle<()>>,
    reloads: u64,
    reload_failures: u64,
}

/// Runs the daemon until [`Control::Shutdown`] or the control channel closes.
///
/// The status watch channel is returned through `status_tx` so embedders can read it.
pub async fn run(
    options: Options,
    loaded: LoadedConfig,
    mut control: mpsc::Receiver<Control>,
    status_tx: watch::Sender<DaemonStatus>,
) -> Result<(), DriverError> {
    let (packets_tx, mut packets_rx) = mpsc::channel::<Datagram>(1024);
    let (scripts_tx, mut scripts_rx) = mpsc::channel::<ScriptReport>(256);
    let vips = VipManager::connect()?;
    if let Some(addr) = options.status_addr {
        let listener = status::bind(addr)
            .await
            .map_err(|source| DriverError::Status { addr, source })?;
        tokio::spawn(status::serve(listener, status_tx.subscribe()));
        info!(%addr, "status endpoint listening");
    }
    let mut d = Daemon {
        options,
        config: loaded.config.clone(),
        start: std::time::Instant::now(),
        vips,
        firewall: Firewall::default(),
        // Resolved by the first apply.
        policy: ScriptPolicy {
            default_user: None,
            security: false,
        },
        instances: Vec::new(),
        next_id: 0,
        packets_tx,
        scripts_tx,
        scripts: HashMap::new(),
        script_state: HashMap::new(),
        link_up: HashMap::new(),
        status: status_tx,
        groups: Vec::new(),
        notifies: Vec::new(),
        reloads: 0,
        reload_failures: 0,
    };
    d.apply(loaded.config).await?;
    let mut timer = timer::DeadlineTimer::new();
    let mut link_poll = tokio::time::interval(d.options.link_poll);
    link_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        d.publish();
        let deadline = d.next_deadline();
        tokio::select! {
            Some(dgram) = packets_rx.recv() => d.on_packet(dgram).await,
            Some(report) = scripts_rx.recv() => d.on_script(report).await,
            _ = link_poll.tick() => d.poll_links().await,
            _ = timer.sleep_until(deadline) => d.on_timers().await,
            cmd = control.recv() => match cmd {
                Some(Control::Reload) => d.reload().await,
                Some(Control::Shutdown) | None => {
                    d.shutdown().await;
                    d.publish();
                    return Ok(());
                }
            },
        }
    }
}

impl Daemon {
    fn now(&self) -> fsm::Instant {
        self.fsm_time(std::time::Instant::now())
    }

    /// `at` on the state machine's clock (microseconds since the daemon started).
    fn fsm_time(&self, at: std::time::Instant) -> fsm::Instant {
        fsm::Instant::from_micros(
            u64::try_from(at.saturating_duration_since(self.start).as_micros()).unwrap_or(u64::MAX),
        )
    }

    fn to_std(&self, at: fsm::Instant) -> std::time::Instant {
        self.start + Duration::from_micros(at.as_micros())
    }

    fn next_deadline(&self) -> Option<std::time::Instant> {
        self.instances
            .iter()
            .filter_map(|r| r.inst.router.next_deadline())
            .min()
            .map(|at| self.to_std(at))
    }

    /// Starts the instances of `config` that are not running with the same settings, stops
    /// those that are gone or changed, and (re)starts the track scripts that changed.
    ///
    /// A changed instance is updated in place, its state kept as keepalived keeps it, when
    /// its sockets stay the same and its state machine can take the new settings (see
    /// [`Instance::can_update_in_place`]); anything else (interface, addresses, peers, VRID,
    /// version, owner status, sync group, a change into or out of FAULT) restarts it.
    async fn apply(&mut self, config: Config) -> Result<(), DriverError> {
        // Resolve the script policy, build every new plan and open its sockets first: a
        // failure leaves the running set untouched.
        let policy = ScriptPolicy::from_config(&config)?;
        let mut plans = Vec::new();
        // Changed instances the driver can update without restarting them.
        let mut updates = Vec::new();
        for inst in &config.instances {
            let running = self
                .instances
                .iter()
                .find(|r| r.inst.plan.name == inst.name);
            if running.is_some_and(|r| r.inst.plan.source.same_settings(inst)) {
                continue;
            }
            let plan = InstancePlan::build(inst, &config)?;
            let router_now = self.router_config_now(&plan);
            match running {
                Some(r) if r.inst.can_update_in_place(&plan, &router_now) => {
                    let sockets = instance::open_announce_others(&plan)?;
                    updates.push((plan, router_now, sockets));
                }
                _ => plans.push(plan),
            }
        }
        let mut opened = Vec::new();
        for plan in plans {
            opened.push(Instance::open(plan)?);
        }
        // Scripts run under the new policy from now on; running track scripts restart.
        if policy != self.policy && !self.scripts.is_empty() {
            info!("script user or script security changed: track scripts restart");
            for (_, (_, task)) in self.scripts.drain() {
                task.abort();
            }
        }
        self.policy = policy;
        // Stop what is gone or changed.
        let keep: Vec<bool> = self
            .instances
            .iter()
            .map(|r| {
                config
                    .instances
                    .iter()
                    .any(|i| i.name == r.inst.plan.name && r.inst.plan.source.same_settings(i))
                    || updates.iter().any(|(p, _, _)| p.name == r.inst.plan.name)
            })
            .collect();
        let mut old = std::mem::take(&mut self.instances);
        let mut kept = Vec::new();
        // A changed instance keeps its counters across the restart (they only grow).
        let mut carried: HashMap<String, status::Counters> = HashMap::new();
        for (running, keep) in old.drain(..).zip(keep) {
            if keep {
                kept.push(running);
            } else {
                let name = running.inst.name().to_string();
                let counters = self.stop_instance(running).await;
                if config.instance(&name).is_some() {
                    carried.insert(name, counters);
                }
            }
        }
        self.instances = kept;
        let now = self.now();
        for (plan, router_now, sockets) in updates {
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
        // Start the new ones.
        let started: Vec<String> = opened.iter().map(|i| i.name().to_string()).collect();
        for mut inst in opened {
            if let Some(counters) = carried.remove(inst.name()) {
                inst.counters = counters;
            }
            inst.remove_vips(&self.vips).await; // leftovers of a crashed run
            let id = self.next_id;
            self.next_id += 1;
            let socket = Arc::clone(&inst.socket);
            let tx = self.packets_tx.clone();
            let reader = tokio::spawn(read_loop(id, socket, tx));
            let now = self.now();
            let link_ok = link_running(&inst.plan.socket.interface);
            if !link_ok && !inst.plan.source.dont_track_primary {
                inst.router.handle(now, Event::InterfaceDown);
            }
            self.link_up
                .insert(inst.plan.socket.interface.clone(), link_ok);
            inst.router.handle(now, Event::Startup);
            // Scripts that already reported: apply their state at once.
            for (tid, src) in inst.plan.tracks.clone().iter().enumerate() {
                if let Some(up) = self.track_state(src) {
                    if inst.track_up.get(tid).copied() != Some(up) {
                        inst.set_track(now, fsm::TrackId(tid as u16), up);
                    }
                }
            }
            info!(instance = %inst.name(), vrid = inst.plan.router.vrid,
                  interface = %inst.plan.socket.interface, "instance started");
            self.instances.push(Running { id, inst, reader });
        }
        self.sync_scripts(&config);
        self.rebuild_groups(&config, &started);
        self.config = config;
        self.sync_firewall().await;
        self.run_all_actions().await;
        Ok(())
    }

    /// What the driver knows now of a tracked check: a script's last result, an interface's
    /// link; `None` for a script that has not reported yet.
    fn track_state(&self, src: &TrackSource) -> Option<bool> {
        match src {
            TrackSource::Script { name, reverse } => {
                self.script_state.get(name).map(|ok| *ok != *reverse)
            }
            TrackSource::Interface { name } => Some(link_running(name)),
        }
    }

    /// `plan`'s state-machine settings with each track's state as the driver knows it now
    /// (a script that has not reported keeps its configured initial state), for
    /// [`VirtualRouter::reconfigure`](crate::fsm::VirtualRouter::reconfigure).
    fn router_config_now(&self, plan: &InstancePlan) -> fsm::RouterConfig {
        let mut cfg = plan.router.clone();
        for (track, src) in cfg.tracks.iter_mut().zip(&plan.tracks) {
            if let Some(up) = self.track_state(src) {
                track.initially_up = up;
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

    fn sync_scripts(&mut self, config: &Config) {
        let wanted: BTreeMap<&str, &VrrpScript> = config
            .scripts
            .iter()
            .filter(|s| {
                config
                    .instances
                    .iter()
                    .any(|i| i.track_scripts.iter().any(|t| t.name == s.name))
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
                self.script_state.remove(name);
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
    async fn stop_instance(&mut self, mut running: Running) -> status::Counters {
        let now = self.now();
        running.inst.router.handle(now, Event::Shutdown);
        let actions = running.inst.run_actions(&self.vips).await;
        running.inst.remove_vips(&self.vips).await;
        running.reader.abort();
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

    async fn on_packet(&mut self, dgram: Datagram) {
        let now = self.fsm_time(dgram.received);
        if let Some(r) = self.instances.iter_mut().find(|r| r.id == dgram.instance) {
            r.inst.receive(now, &dgram.bytes, dgram.meta);
        }
        self.run_all_actions().await;
    }

    async fn on_script(&mut self, report: ScriptReport) {
        let now = self.now();
        self.script_state.insert(report.name.clone(), report.ok);
        for r in &mut self.instances {
            for (tid, src) in r.inst.plan.tracks.clone().iter().enumerate() {
                if let TrackSource::Script { name, reverse } = src {
                    if *name == report.name {
                        r.inst
                            .set_track(now, fsm::TrackId(tid as u16), report.ok != *reverse);
                    }
                }
            }
        }
        self.run_all_actions().await;
    }

    async fn poll_links(&mut self) {
        let now = self.now();
        let mut changed = false;
        let mut names: Vec<String> = Vec::new();
        for r in &self.instances {
            names.push(r.inst.plan.socket.interface.clone());
            for src in &r.inst.plan.tracks {
                if let TrackSource::Interface { name } = src {
                    names.push(name.clone());
                }
            }
        }
        names.sort();
        names.dedup();
        for name in names {
            let up = link_running(&name);
            if self.link_up.insert(name.clone(), up) == Some(up) {
                continue;
            }
            changed = true;
            info!(interface = %name, up, "link state changed");
            for r in &mut self.instances {
                if r.inst.plan.socket.interface == name && !r.inst.plan.source.dont_track_primary {
                    let ev = if up {
                        Event::InterfaceUp
                    } else {
                        Event::InterfaceDown
                    };
                    r.inst.router.handle(now, ev);
                }
                for (tid, src) in r.inst.plan.tracks.clone().iter().enumerate() {
                    if matches!(src, TrackSource::Interface { name: n } if *n == name) {
                        r.inst.set_track(now, fsm::TrackId(tid as u16), up);
                    }
                }
            }
        }
        if changed {
            self.run_all_actions().await;
        }
    }

    async fn on_timers(&mut self) {
        let now = self.now();
        for r in &mut self.instances {
            if r.inst.router.next_deadline().is_some_and(|d| d <= now) {
                r.inst.router.handle_timeout(now);
            }
        }
        self.run_all_actions().await;
    }

    /// Drains every instance's actions, shows them to the sync group coordinators, and
    /// delivers the coordinators' commands, until nothing more happens.
    async fn run_all_actions(&mut self) {
        // Each round can only follow commands of the one before, and the coordinator does not
        // propagate command-caused transitions again: a few rounds always settle.
        for _round in 0..8 {
            let mut notify = Vec::new();
            for r in &mut self.instances {
                let actions = r.inst.run_actions(&self.vips).await;
                let name = r.inst.name().to_string();
                for action in &actions {
                    if let fsm::Action::Notify { state } = action {
                        notify.push((name.clone(), *state, r.inst.router.priority()));
                    }
                    for g in &mut self.groups {
                        if let Some(member) = g.config.instances.iter().position(|m| *m == name) {
                            g.coordinator.observe(member, action);
                        }
                    }
                }
            }
            for (name, state, prio) in notify {
                self.run_notify(&name, state, prio);
            }
            self.notify_groups();
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
    fn notify_groups(&mut self) {
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

    fn spawn_notify(&mut self, argv: Vec<String>, what: String) {
        self.notifies.retain(|h| !h.is_finished());
        if let Some(handle) = scripts::notify(argv, &self.policy, what) {
            self.notifies.push(handle);
        }
    }

    fn run_notify(&mut self, name: &str, state: State, prio: u8) {
        let Some(inst) = self.config.instance(name) else {
            return;
        };
        let specific = match state {
            State::Master => inst.notify.master.clone(),
            State::Backup => inst.notify.backup.clone(),
            State::Fault => inst.notify.fault.clone(),
            State::Initialize => inst.notify.stop.clone(),
        };
        let any = inst.notify.any.clone();
        let what = format!("{name} {}", state.keepalived_name());
        if let Some(argv) = specific {
            self.spawn_notify(argv, what.clone());
        }
        if let Some(mut argv) = any {
            argv.extend([
                "INSTANCE".to_string(),
                name.to_string(),
                state.keepalived_name().to_string(),
                prio.to_string(),
            ]);
            self.spawn_notify(argv, what);
        }
    }

    fn run_group_notify(&mut self, group: &str, notify: &config::Notify, state: State) {
        let specific = match state {
            State::Master => notify.master.clone(),
            State::Backup => notify.backup.clone(),
            State::Fault => notify.fault.clone(),
            State::Initialize => notify.stop.clone(),
        };
        let what = format!("group {group} {}", state.keepalived_name());
        if let Some(argv) = specific {
            self.spawn_notify(argv, what.clone());
        }
        if let Some(mut argv) = notify.any.clone() {
            argv.extend([
                "GROUP".to_string(),
                group.to_string(),
                state.keepalived_name().to_string(),
            ]);
            self.spawn_notify(argv, what);
        }
    }

    async fn reload(&mut self) {
        info!(file = %self.options.config_path.display(), "reloading configuration");
        let loaded = match config::load(&self.options.config_path) {
            Ok(l) => l,
            Err(e) => {
                self.reload_failures += 1;
                error!("reload rejected, keeping the running configuration: {e}");
                return;
            }
        };
        for w in &loaded.warnings {
            warn!("{w}");
        }
        match self.apply(loaded.config).await {
            Ok(()) => {
                self.reloads += 1;
                info!(instances = self.instances.len(), "configuration reloaded");
            }
            Err(e) => {
                self.reload_failures += 1;
                error!("reload failed, running instances kept: {e}");
            }
        }
    }

    async fn shutdown(&mut self) {
        info!("shutting down");
        for (_, (_, task)) in self.scripts.drain() {
            task.abort();
        }
        let running = std::mem::take(&mut self.instances);
        for r in running {
            self.stop_instance(r).await;
        }
        self.firewall.remove().await;
        // Let the STOP notify scripts (and any still running) finish, within a bound.
        let pending = std::mem::take(&mut self.notifies);
        let wait = futures_util::future::join_all(pending);
        if tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .is_err()
        {
            warn!("notify scripts still running after 10 s at shutdown; killing them");
        }
    }

    fn publish(&self) {
        let snapshot = DaemonStatus {
            router_id: self.config.global.router_id.clone(),
            reloads: self.reloads,
            reload_failures: self.reload_failures,
            instances: self.instances.iter().map(|r| r.inst.status()).collect(),
        };
        self.status.send_if_modified(|s| {
            if *s == snapshot {
                false
            } else {
                *s = snapshot;
                true
            }
        });
    }
}

async fn read_loop(id: u64, socket: Arc<crate::net::AdvertSocket>, tx: mpsc::Sender<Datagram>) {
    let mut buf = vec![0u8; crate::net::MAX_PACKET];
    loop {
        match socket.recv(&mut buf).await {
            Ok(meta) => {
                let received = arrival(meta.arrived);
                let dgram = Datagram {
                    instance: id,
                    bytes: buf[..meta.len.min(buf.len())].to_vec(),
                    meta,
                    received,
                };
                if tx.send(dgram).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                warn!("receiving adverts: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The monotonic time of a datagram the kernel stamped `arrived` on the wall clock: now,
/// less its age. Without a stamp, or with one from the future or over a second old (the
/// wall clock stepped), now.
fn arrival(arrived: Option<std::time::SystemTime>) -> std::time::Instant {
    let now = std::time::Instant::now();
    arrived
        .and_then(|at| std::time::SystemTime::now().duration_since(at).ok())
        .filter(|age| *age < Duration::from_secs(1))
        .and_then(|age| now.checked_sub(age))
        .unwrap_or(now)
}

/// Whether interface `name` is up with carrier, from sysfs (cheap enough to poll).
pub fn link_running(name: &str) -> bool {
    let base = std::path::Path::new("/sys/class/net").join(name);
    let oper = std::fs::read_to_string(base.join("operstate")).unwrap_or_default();
    matches!(oper.trim(), "up" | "unknown")
        && std::fs::read_to_string(base.join("carrier")).is_ok_and(|c| c.trim() == "1")
}

#[cfg(test)]
mod arrival_tests {
    use std::time::{Duration, Instant, SystemTime};

    use super::arrival;

    #[test]
    fn a_kernel_stamp_moves_the_arrival_back_by_its_age() {
        let before = Instant::now();
        let at = arrival(Some(SystemTime::now() - Duration::from_millis(50)));
        let after = Instant::now();
        // About 50 ms before the call (the two clocks are read a moment apart).
        assert!(at <= after - Duration::from_millis(45));
        assert!(at + Duration::from_millis(55) >= before);
    }

    #[test]
    fn no_stamp_a_future_one_or_a_stale_one_means_now() {
        for stamp in [
            None,
            Some(SystemTime::now() + Duration::from_secs(5)),
            Some(SystemTime::now() - Duration::from_secs(5)),
        ] {
            let before = Instant::now();
            let at = arrival(stamp);
            assert!(at >= before && at <= Instant::now(), "{stamp:?}");
        }
    }
}
