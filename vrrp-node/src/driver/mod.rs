//! The tokio driver: joins the state machines to sockets, timers, netlink, scripts, link
//! state and the status endpoint, and handles reload and shutdown.
//!
//! One task runs every instance, so that sync groups and reloads see a consistent set.
//! Socket readers and track scripts run in their own tasks and report over channels.
//!
//! Here: the event loop and the daemon's state. Elsewhere: what a configuration means for
//! one instance ([`plan`]) and running it ([`instance`]; when it renews its VIPs,
//! `renewal`); reconciling the running set with a configuration (`apply`); datagrams,
//! script results and link state (`inputs`); link messages ([`linkmon`]); tracked
//! processes ([`procmon`], reading `/proc` in `procfs`) and files ([`filemon`]) and what the
//! daemon knows of every tracked check (`tracking`); sync groups (`groups`); notify scripts
//! (`notify`); metrics (`metrics`); `anycast_route`s, halb's extension (`anycast`).

mod anycast;
mod apply;
pub mod filemon;
pub mod firewall;
mod groups;
mod inputs;
pub mod instance;
pub mod linkmon;
mod metrics;
mod notify;
pub mod plan;
mod procfs;
pub mod procmon;
mod renewal;
pub mod scripts;
pub mod status;
mod timer;
mod tracking;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::config::{self, Config, LoadedConfig, VrrpScript};
use crate::fsm;
use crate::vip::{RenewalBatch, VipManager};

use crate::track::process::QuorumState;

use filemon::{FileMonitor, FileValue};
use firewall::Firewall;
use inputs::Datagram;
use instance::Instance;
use procmon::ProcessMonitor;
use scripts::{ScriptPolicy, ScriptReport};
use status::DaemonStatus;
use tracking::TrackStates;

pub use inputs::link_running;

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
    /// Netlink could not be opened for routes.
    #[error(transparent)]
    Route(#[from] crate::route::RouteError),
    /// An `anycast_route` could not be set up.
    #[error("anycast_route {route}: {what}")]
    Anycast {
        /// The block's name.
        route: String,
        /// What went wrong.
        what: String,
    },
    /// Script settings are unusable.
    #[error("scripts: {0}")]
    Scripts(String),
    /// `vrrp_track_process` is configured but process events cannot be had.
    #[error("vrrp_track_process: {0}")]
    ProcessEvents(#[from] procmon::ConnectorError),
    /// A `track_file` cannot be watched.
    #[error(transparent)]
    TrackFile(#[from] filemon::FileTrackError),
    /// A tracking task stopped.
    #[error("the {0} task has stopped")]
    TrackingStopped(&'static str),
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
    /// How the file is read (keepalived's config id), at start and on reload.
    pub load: config::LoadOptions,
    /// Where to serve the JSON status, if anywhere.
    pub status_addr: Option<SocketAddr>,
    /// How often interface state is read when link messages cannot be had; with them, a
    /// link change is read as the kernel announces it, and the links are read again every
    /// [`LINK_SAFETY_POLL_TICKS`] times this long in case a message was missed.
    pub link_poll: Duration,
    /// How long an installed VIP lives unless renewed (`None`: until removed, as in
    /// keepalived); never less than 4 advert intervals + 1 s, so that a Backup has taken
    /// over (Master_Down_Interval) before a killed Master's VIPs go. A Master renews its
    /// VIPs every third of it, so a killed daemon's VIPs leave the node after this long instead
    /// of staying until it starts again.
    pub vip_lifetime: Option<Duration>,
    /// How often the counters are recorded into the metrics recorder, when one is installed
    /// (`None`: no recorder; the status is then published at state changes only, and the
    /// status endpoint asks for its own).
    pub metrics_refresh: Option<Duration>,
    /// The network namespace to subscribe to process events from when this one has no
    /// connector (it exists in the initial namespace only): [`procmon::INITIAL_NETNS`] by
    /// default.
    pub proc_events_netns: PathBuf,
}

struct Running {
    id: u64,
    inst: Instance,
    /// Reads the instance's socket while it has one.
    reader: Option<JoinHandle<()>>,
    /// Why the instance could not be put on its interface the last time it was tried (to
    /// log each reason once, not on every link poll).
    attach_error: Option<String>,
}

/// The daemon's state between events.
struct Daemon {
    options: Options,
    config: Config,
    start: std::time::Instant,
    vips: VipManager,
    /// The kernel routes of the `anycast_route`s.
    routes: crate::route::RouteManager,
    /// The `anycast_route`s running, in configuration order.
    anycast: Vec<anycast::RunningRoute>,
    firewall: Firewall,
    policy: ScriptPolicy,
    instances: Vec<Running>,
    next_id: u64,
    packets_tx: mpsc::Sender<Datagram>,
    scripts_tx: mpsc::Sender<ScriptReport>,
    scripts: HashMap<String, (VrrpScript, JoinHandle<()>)>,
    /// What is known of tracked scripts, processes and files.
    tracked: TrackStates,
    process_tx: mpsc::Sender<QuorumState>,
    file_tx: mpsc::Sender<FileValue>,
    /// Subscribed to process events while some `vrrp_track_process` is tracked.
    process_monitor: Option<ProcessMonitor>,
    /// Watching while some `track_file` is tracked.
    file_monitor: Option<FileMonitor>,
    link_up: HashMap<String, bool>,
    status: watch::Sender<DaemonStatus>,
    groups: Vec<groups::GroupRuntime>,
    notifies: Vec<JoinHandle<()>>,
    reloads: u64,
    reload_failures: u64,
    /// What the status last published says (see [`Daemon::publish`]).
    published: Published,
}

/// Runs the daemon until [`Control::Shutdown`] or the control channel closes.
///
/// `status_tx` gets the status at every change of an instance's state, priority or VIPs,
/// and every [`Options::metrics_refresh`]; the status endpoint serves a fresh one.
pub async fn run(
    options: Options,
    loaded: LoadedConfig,
    mut control: mpsc::Receiver<Control>,
    status_tx: watch::Sender<DaemonStatus>,
) -> Result<(), DriverError> {
    let (packets_tx, mut packets_rx) = mpsc::channel::<Datagram>(1024);
    let (scripts_tx, mut scripts_rx) = mpsc::channel::<ScriptReport>(256);
    let (process_tx, mut process_rx) = mpsc::channel::<QuorumState>(256);
    let (file_tx, mut file_rx) = mpsc::channel::<FileValue>(256);
    let (status_req_tx, mut status_req_rx) = mpsc::channel::<status::StatusRequest>(64);
    let vips = VipManager::connect()?;
    let routes = crate::route::RouteManager::connect()?;
    metrics::describe();
    if let Some(addr) = options.status_addr {
        let listener = status::bind(addr)
            .await
            .map_err(|source| DriverError::Status { addr, source })?;
        tokio::spawn(status::serve(listener, status_req_tx));
        info!(%addr, "status endpoint listening");
    }
    let mut d = Daemon {
        options,
        config: loaded.config.clone(),
        start: std::time::Instant::now(),
        vips,
        routes,
        anycast: Vec::new(),
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
        tracked: TrackStates::default(),
        process_tx,
        file_tx,
        process_monitor: None,
        file_monitor: None,
        link_up: HashMap::new(),
        status: status_tx,
        groups: Vec::new(),
        notifies: Vec::new(),
        reloads: 0,
        reload_failures: 0,
        published: Published {
            at: std::time::Instant::now(),
            instances: Vec::new(),
            anycast: Vec::new(),
        },
    };
    d.apply(loaded.config).await?;
    let mut timer = timer::DeadlineTimer::new();
    let mut links = match linkmon::LinkEvents::subscribe() {
        Ok(l) => Some(l),
        Err(e) => {
            warn!(every = ?d.options.link_poll, "link messages unavailable ({e}): links are polled");
            None
        }
    };
    // One deadline for everything timed (adverts, renewals, the link poll), on the timerfd:
    // no tokio timer, whose wheel wakes the thread on its way to a far deadline.
    let mut link_poll_every = link_poll_period(d.options.link_poll, links.is_some());
    let mut next_link_poll = std::time::Instant::now();
    loop {
        d.publish();
        let deadline = d
            .next_deadline()
            .map_or(next_link_poll, |d| d.min(next_link_poll));
        tokio::select! {
            Some(dgram) = packets_rx.recv() => d.on_packet(dgram).await,
            Some(report) = scripts_rx.recv() => d.on_script(report).await,
            Some(state) = process_rx.recv() => d.on_process(state).await,
            Some(value) = file_rx.recv() => d.on_file(value).await,
            Some(reply) = status_req_rx.recv() => {
                let _ = reply.send(d.snapshot());
            }
            changed = async {
                match links.as_mut() {
                    Some(l) => l.changed().await,
                    None => std::future::pending().await,
                }
            } => match changed {
                Ok(()) => {
                    d.poll_links().await;
                    d.sync_anycast().await;
                }
                Err(e) => {
                    warn!(every = ?d.options.link_poll, "link messages failed ({e}): links are polled");
                    links = None;
                    link_poll_every = link_poll_period(d.options.link_poll, false);
                    next_link_poll = std::time::Instant::now();
                }
            },
            _ = timer.sleep_until(Some(deadline)) => {
                d.on_timers().await;
                let now = std::time::Instant::now();
                // The first poll (at start) reads the links too; an anycast route whose
                // install failed is tried again here. With link messages, the safety poll
                // rides on a wake-up within half its period of it (an advert's), as the VIP
                // renewals do, instead of waking the daemon for itself.
                let early = if links.is_some() { link_poll_every / 2 } else { Duration::ZERO };
                if now + early >= next_link_poll {
                    next_link_poll = now + link_poll_every;
                    d.poll_links().await;
                    d.sync_anycast().await;
                }
            }
            cmd = control.recv() => match cmd {
                Some(Control::Reload) => d.reload().await,
                Some(Control::Shutdown) | None => {
                    d.shutdown().await;
                    d.publish_now();
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

    /// The earliest of the state machines' deadlines and the VIP renewals.
    fn next_deadline(&self) -> Option<std::time::Instant> {
        self.instances
            .iter()
            .flat_map(|r| {
                let fsm = r.inst.router.next_deadline().map(|at| self.to_std(at));
                [fsm, r.inst.renewal.at()]
            })
            .flatten()
            .min()
    }

    async fn on_packet(&mut self, dgram: Datagram) {
        let now = self.fsm_time(dgram.received);
        if let Some(r) = self.instances.iter_mut().find(|r| r.id == dgram.instance) {
            r.inst.receive(now, &dgram.bytes, dgram.meta);
        }
        self.run_all_actions().await;
    }

    /// The state machines' deadlines that are due, their actions (the adverts), then the VIP
    /// renewals that were due: building and queueing a renewal's request takes microseconds
    /// each, tens of them at once with hundreds of Masters, and the adverts of this wake-up
    /// must not wait for them (255 Masters at 0.05 s: the gaps' p50 rose from ~130 to
    /// ~450 us with the renewals first). Which renewals are due is decided before the
    /// actions, so a Master that installs its VIPs now renews them at a later wake-up; one
    /// that left Master meanwhile has none left to renew.
    async fn on_timers(&mut self) {
        let now = self.now();
        let now_std = self.to_std(now);
        let mut due = Vec::new();
        for (i, r) in self.instances.iter_mut().enumerate() {
            if r.inst.router.next_deadline().is_some_and(|d| d <= now) {
                r.inst.router.handle_timeout(now);
            }
            if r.inst.take_renewal_due(now_std) {
                due.push(i);
            }
        }
        self.run_all_actions().await;
        let mut renewals = RenewalBatch::default();
        for i in due {
            if let Some(r) = self.instances.get(i) {
                r.inst.renew_vips(&self.vips, &mut renewals);
            }
        }
        for refused in self.vips.send_renewals(renewals) {
            let vip = &refused.vip;
            warn!(
                instance = %refused.instance,
                "renewing VIP {}/{} on ifindex {}: {}", vip.addr, vip.prefix_len, vip.ifindex, refused.error
            );
        }
    }

    async fn reload(&mut self) {
        info!(file = %self.options.config_path.display(), "reloading configuration");
        let loaded = match config::load_all_with(&self.options.config_path, &self.options.load) {
            Ok(l) => l,
            Err(errors) => {
                self.reload_failures += 1;
                for e in errors.iter() {
                    error!("{e}");
                }
                error!(
                    errors = errors.count(),
                    "reload rejected, keeping the running configuration"
                );
                self.publish_now();
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
        // The counts of reloads and the instances' new VIP lists, at once.
        self.publish_now();
    }

    async fn shutdown(&mut self) {
        info!("shutting down");
        // Routes first: the router moves the traffic away while the prefixes are still
        // delivered here (see `anycast::STOP_DRAIN`).
        let announced = self.withdraw_anycast().await;
        self.process_monitor = None;
        self.file_monitor = None;
        for (_, (_, task)) in self.scripts.drain() {
            task.abort();
        }
        let mut running = std::mem::take(&mut self.instances);
        // A Master's priority 0 advert makes the Backups take over after Skew_Time, which is
        // under one advert interval (RFC 5798 §6.4.3, §6.1). Until then a Master keeps its
        // addresses: a client connecting in that time is still answered here instead of
        // being dropped by a node that no longer owns the VIP while the new Master does not
        // own it yet. The new Master's gratuitous ARPs then move the clients over.
        let hold = running
            .iter()
            .filter(|r| r.inst.vips_installed)
            .map(|r| handover_time(r.inst.plan.router.advert_interval_cs))
            .chain(announced.then_some(anycast::STOP_DRAIN))
            .max();
        let mut stopping = Vec::with_capacity(running.len());
        for mut r in running.drain(..) {
            r.inst.hold_vips = hold.is_some();
            let actions = self.begin_stop(&mut r).await;
            stopping.push((r, actions));
        }
        if let Some(hold) = hold {
            info!(
                ?hold,
                "priority 0 sent; VIPs held until a Backup has taken over"
            );
            tokio::time::sleep(hold).await;
        }
        for (r, actions) in stopping {
            self.end_stop(r, actions).await;
        }
        self.stop_anycast().await;
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

    /// Publishes the status (to the watch channel, and the metrics from it) when an
    /// instance changed what it is (see [`Published`]), and, with a metrics recorder, every
    /// [`Options::metrics_refresh`] for the counters. A snapshot copies every instance's
    /// names, VIPs and counters: made at every advert, as it was, it cost 84% of the
    /// daemon's instructions with 255 instances, and held the adverts due behind it
    /// (callgrind, scripts/bench-vrrp-scale-results.txt). The status endpoint asks for a
    /// snapshot of its own instead (see [`status::StatusRequest`]).
    fn publish(&mut self) {
        let refresh = self
            .options
            .metrics_refresh
            .is_some_and(|every| self.published.at.elapsed() >= every);
        if !refresh && self.published.same(&self.instances, &self.anycast) {
            return;
        }
        self.publish_now();
    }

    /// The status as it is now.
    fn snapshot(&self) -> DaemonStatus {
        DaemonStatus {
            router_id: self.config.global.router_id.clone(),
            config_id: self.options.load.config_id.clone(),
            reloads: self.reloads,
            reload_failures: self.reload_failures,
            instances: self.instances.iter().map(|r| r.inst.status()).collect(),
            anycast_routes: self.anycast.iter().map(|r| r.status()).collect(),
        }
    }

    /// Publishes the status now (after a reload, at shutdown, and from [`Daemon::publish`]).
    fn publish_now(&mut self) {
        let snapshot = self.snapshot();
        self.published = Published::of(&self.instances, &self.anycast);
        let changed = self.status.send_if_modified(|s| {
            if *s == snapshot {
                false
            } else {
                *s = snapshot;
                true
            }
        });
        if changed {
            metrics::record(&self.status.borrow());
        }
    }
}

/// What the status last published says of each instance besides its counters, and of
/// each `anycast_route` (the metric of its installed route, if any): a change in any of it
/// is published at once.
struct Published {
    at: std::time::Instant,
    instances: Vec<(u64, fsm::State, u8, bool)>,
    anycast: Vec<Option<u32>>,
}

impl Published {
    fn of(instances: &[Running], anycast: &[anycast::RunningRoute]) -> Published {
        Published {
            at: std::time::Instant::now(),
            instances: instances.iter().map(Published::summary).collect(),
            anycast: anycast
                .iter()
                .map(anycast::RunningRoute::installed)
                .collect(),
        }
    }

    /// The id (a restart or a reload makes a new one), state, effective priority and
    /// whether the VIPs are installed.
    fn summary(r: &Running) -> (u64, fsm::State, u8, bool) {
        (
            r.id,
            r.inst.router.state(),
            r.inst.router.priority(),
            r.inst.vips_installed,
        )
    }

    /// Whether `instances` and `anycast` are what was published.
    fn same(&self, instances: &[Running], anycast: &[anycast::RunningRoute]) -> bool {
        self.instances.len() == instances.len()
            && instances
                .iter()
                .zip(&self.instances)
                .all(|(r, p)| Published::summary(r) == *p)
            && anycast
                .iter()
                .map(anycast::RunningRoute::installed)
                .eq(self.anycast.iter().copied())
    }
}

/// With link messages, the links are still read every this many link polls (every 10 s at
/// vrrpd's 100 ms), in case the kernel changed a link without a message (a lost message is
/// an ENOBUFS, read as a change; keepalived does not poll at all). Once a second, this read
/// was a fifth of an idle single-instance daemon's CPU.
pub const LINK_SAFETY_POLL_TICKS: u64 = 100;

/// How often the links are read: every `link_poll` without link messages, every
/// [`LINK_SAFETY_POLL_TICKS`] times that with them.
fn link_poll_period(link_poll: Duration, subscribed: bool) -> Duration {
    if subscribed {
        link_poll.saturating_mul(u32::try_from(LINK_SAFETY_POLL_TICKS).unwrap_or(100))
    } else {
        link_poll
    }
}

/// How long a stopping Master keeps its VIPs: one advert interval, the longest Skew_Time
/// of any Backup, plus 100 ms for it to install them on a busy node; at most 2 s, so a
/// long interval does not hold a stop back (past it the VIPs go as they did before).
fn handover_time(advert_interval_cs: u16) -> Duration {
    (Duration::from_millis(u64::from(advert_interval_cs) * 10) + Duration::from_millis(100))
        .min(Duration::from_secs(2))
}
