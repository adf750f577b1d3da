//! The daemon's `anycast_route`s (a halb extension, docs/anycast.md): each route's tracked
//! checks read as an instance's are, their verdict from the sans-IO
//! [`AnycastHealth`](crate::fsm::anycast::AnycastHealth), and the kernel routes FRR
//! redistributes installed or deleted to follow it ([`crate::route`]).
//!
//! A route's prefix is delivered locally from the start to the stop of its block, announced
//! or not: connections the router still sends while a withdrawal spreads are answered.

use std::time::Duration;

use tracing::{info, warn};

use crate::config::{AnycastRoute, Config};
use crate::fsm::anycast::{Announcement, AnycastHealth};
use crate::fsm::{TrackConfig, TrackId};
use crate::net::iface::index_of;
use crate::route::{AnycastPrefix, RouteManager};

use super::plan::{track_lists, TrackLists, TrackReading, TrackSource};
use super::status::AnycastRouteStatus;
use super::tracking::TrackStates;
use super::{link_running, Daemon, DriverError};

/// How long a stopping daemon keeps delivering its withdrawn prefixes locally: time for
/// the withdrawal to reach the router (about 150 ms measured through FRR, see
/// docs/anycast.md), so that connections it sends meanwhile are answered, not reset.
pub(super) const STOP_DRAIN: Duration = Duration::from_secs(1);

/// One `anycast_route` running.
#[derive(Debug)]
pub(super) struct RunningRoute {
    config: AnycastRoute,
    prefix: AnycastPrefix,
    sources: Vec<TrackSource>,
    tracks: Vec<TrackConfig>,
    health: AnycastHealth,
    /// The metric of the route in the kernel, if one is there.
    installed: Option<u32>,
    /// Whether the interface was there and running at the last look.
    usable: bool,
    withdrawals: u64,
    /// The last error installing or deleting, logged once.
    last_error: Option<String>,
}

/// What an apply does with one `anycast_route` of the new configuration.
pub(super) enum Planned {
    /// Running with these settings already.
    Keep(String),
    /// Started, or replacing a running one of the same name.
    Start(Box<RunningRoute>),
}

impl RunningRoute {
    fn build(a: &AnycastRoute, all: &Config) -> Result<RunningRoute, DriverError> {
        let fail = |what: String| DriverError::Anycast {
            route: a.name.clone(),
            what,
        };
        // A missing interface is waited for, as an instance's is (see `follow_interface`).
        let ifindex = match index_of(&a.interface) {
            Ok(Some(index)) => index,
            Ok(None) => {
                warn!(anycast_route = %a.name, interface = %a.interface,
                      "interface does not exist; the route waits for it");
                0
            }
            Err(e) => return Err(fail(e.to_string())),
        };
        let (sources, tracks) = route_tracks(a, all).map_err(fail)?;
        Ok(RunningRoute {
            health: AnycastHealth::new(a.priority, tracks.clone()),
            config: a.clone(),
            prefix: AnycastPrefix {
                addr: a.prefix,
                len: a.prefix_len,
                ifindex,
            },
            sources,
            tracks,
            installed: None,
            usable: ifindex != 0 && link_running(&a.interface),
            withdrawals: 0,
            last_error: None,
        })
    }

    /// Whether this runs `a` of `all` as it is: same block, same tracks, same interface.
    fn runs(&self, a: &AnycastRoute, all: &Config) -> bool {
        self.config.same_settings(a)
            && route_tracks(a, all).is_ok_and(|(s, t)| s == self.sources && t == self.tracks)
            && index_of(&a.interface).ok().flatten().unwrap_or(0) == self.prefix.ifindex
    }

    /// Follows the route's interface. Deleted or down, the kernel drops its routes
    /// (IPv4 flushes the routes of a device that goes down, without telling anyone), so
    /// the route counts as withdrawn until it is back; back (or replaced: a new index),
    /// the prefix is delivered again and the route installed anew. Returns whether the
    /// interface is usable.
    async fn follow_interface(&mut self, routes: &RouteManager) -> bool {
        let index = index_of(&self.config.interface).ok().flatten();
        let usable = index.is_some() && link_running(&self.config.interface);
        if !usable {
            if self.usable {
                warn!(anycast_route = %self.config.name, interface = %self.config.interface,
                      "interface gone or down: route withdrawn until it is back");
                if let Some(metric) = self.installed.take() {
                    // Already gone with a deleted device; a device down but present may
                    // keep it (carrier loss): it must not be announced.
                    let _ = routes.withdraw(&self.prefix, Some(metric)).await;
                    self.withdrawals += 1;
                }
            }
            self.usable = false;
            return false;
        }
        let index = index.unwrap_or_default();
        if !self.usable || index != self.prefix.ifindex {
            info!(anycast_route = %self.config.name, interface = %self.config.interface,
                  ifindex = index, "interface usable: prefix delivered on it");
            self.prefix.ifindex = index;
            self.installed = None;
            if let Err(e) = routes.add_local(&self.prefix).await {
                warn!(anycast_route = %self.config.name, "{e}");
            }
        }
        self.usable = true;
        true
    }

    /// Tells the health every check's state as known now.
    fn read_tracks(&mut self, tracked: &TrackStates) {
        for (i, src) in self.sources.iter().enumerate() {
            let Ok(id) = u16::try_from(i).map(TrackId) else {
                break;
            };
            match tracked.reading(src) {
                Some(TrackReading::Up(up)) => self.health.set_up(id, up),
                Some(TrackReading::Value(v)) => self.health.set_value(id, v),
                None => false,
            };
        }
    }

    /// Makes the kernel hold what the checks say: the route with its metric, or none. A
    /// failure is logged once and tried again at the next event or link poll.
    async fn converge(&mut self, routes: &RouteManager) {
        let verdict = self.health.announcement();
        let want = verdict.route_metric();
        if want == self.installed {
            return;
        }
        let result = async {
            if let Some(metric) = want {
                routes.announce(&self.prefix, metric).await?;
            }
            if let Some(old) = self.installed {
                routes.withdraw(&self.prefix, Some(old)).await?;
            }
            Ok::<(), crate::route::RouteError>(())
        }
        .await;
        match result {
            Ok(()) => {
                let (name, prefix) = (&self.config.name, self.prefix);
                match verdict {
                    Announcement::Announced { priority, metric } => {
                        info!(anycast_route = %name, %prefix, priority, metric, "route announced")
                    }
                    Announcement::Withdrawn { failing } => {
                        self.withdrawals += 1;
                        info!(anycast_route = %name, %prefix, failing, "route withdrawn")
                    }
                }
                self.installed = want;
                self.last_error = None;
            }
            Err(e) => {
                let message = e.to_string();
                if self.last_error.as_ref() != Some(&message) {
                    warn!(anycast_route = %self.config.name, "{message}; tried again at the next poll");
                    self.last_error = Some(message);
                }
            }
        }
    }

    /// Withdraws the route if it is installed.
    async fn withdraw(&mut self, routes: &RouteManager) {
        if let Some(metric) = self.installed {
            match routes.withdraw(&self.prefix, Some(metric)).await {
                Ok(()) => {
                    self.installed = None;
                    self.withdrawals += 1;
                    info!(anycast_route = %self.config.name, prefix = %self.prefix,
                          "route withdrawn (stopping)");
                }
                Err(e) => warn!(anycast_route = %self.config.name, "{e}"),
            }
        }
    }

    /// Stops delivering the prefix locally.
    async fn stop_local(&self, routes: &RouteManager) {
        if let Err(e) = routes.delete_local(&self.prefix).await {
            warn!(anycast_route = %self.config.name, "{e}");
        }
    }

    /// The metric of the route installed, if one is (what the status says changed).
    pub(super) fn installed(&self) -> Option<u32> {
        self.installed
    }

    pub(super) fn status(&self) -> AnycastRouteStatus {
        let verdict = self.health.announcement();
        let priority = match verdict {
            Announcement::Announced { priority, .. } => Some(priority),
            Announcement::Withdrawn { .. } => None,
        };
        AnycastRouteStatus {
            name: self.config.name.clone(),
            prefix: self.prefix.to_string(),
            interface: self.config.interface.clone(),
            announced: self.installed.is_some(),
            wanted: verdict.is_announced(),
            effective_priority: priority,
            metric: self.installed,
            withdrawals: self.withdrawals,
        }
    }
}

/// The tracks of an `anycast_route`, as an instance's are made (it is in no sync group).
fn route_tracks(
    a: &AnycastRoute,
    all: &Config,
) -> Result<(Vec<TrackSource>, Vec<TrackConfig>), String> {
    let lists = TrackLists {
        scripts: &a.track_scripts,
        interfaces: &a.track_interfaces,
        processes: &a.track_processes,
        files: &a.track_files,
        group: None,
    };
    track_lists(&lists, all)
}

impl Daemon {
    /// What `config` does with each of its `anycast_route`s; fails, changing nothing, when
    /// one cannot run (its interface cannot be looked up).
    pub(super) fn plan_anycast(&self, config: &Config) -> Result<Vec<Planned>, DriverError> {
        config
            .anycast_routes
            .iter()
            .map(|a| {
                let running = self.anycast.iter().find(|r| r.config.name == a.name);
                Ok(match running {
                    Some(r) if r.runs(a, config) => Planned::Keep(a.name.clone()),
                    _ => Planned::Start(Box::new(RunningRoute::build(a, config)?)),
                })
            })
            .collect()
    }

    /// Runs the `planned` routes: those kept go on; a replaced one hands its kernel route
    /// to its successor when the prefix stays (no withdrawal for a changed weight); the
    /// others are withdrawn and no longer delivered. Then every route follows its checks.
    pub(super) async fn apply_anycast(&mut self, planned: Vec<Planned>) {
        let mut old = std::mem::take(&mut self.anycast);
        for p in planned {
            let route = match p {
                Planned::Keep(name) => old
                    .iter()
                    .position(|r| r.config.name == name)
                    .map(|i| old.swap_remove(i)),
                Planned::Start(mut new) => {
                    let same_prefix = old.iter().position(|r| r.prefix == new.prefix);
                    if let Some(prev) = same_prefix.map(|i| old.swap_remove(i)) {
                        new.installed = prev.installed;
                        new.withdrawals = prev.withdrawals;
                    } else if new.prefix.ifindex != 0 {
                        // Leftovers of a crashed run go; the prefix is delivered from now.
                        if let Err(e) = self.routes.withdraw(&new.prefix, None).await {
                            warn!(anycast_route = %new.config.name, "{e}");
                        }
                        if let Err(e) = self.routes.add_local(&new.prefix).await {
                            warn!(anycast_route = %new.config.name, "{e}");
                        }
                    }
                    info!(anycast_route = %new.config.name, prefix = %new.prefix,
                          interface = %new.config.interface, "anycast route started");
                    Some(*new)
                }
            };
            self.anycast.extend(route);
        }
        for mut gone in old {
            gone.withdraw(&self.routes).await;
            gone.stop_local(&self.routes).await;
            info!(anycast_route = %gone.config.name, "anycast route stopped");
        }
        self.sync_anycast().await;
    }

    /// Every route on its interface, told its checks' states, and the kernel made to
    /// follow: after each report of a check and at each link poll (which also retries a
    /// failed install and notices a deleted or recreated interface).
    pub(super) async fn sync_anycast(&mut self) {
        for r in &mut self.anycast {
            if !r.follow_interface(&self.routes).await {
                continue;
            }
            r.read_tracks(&self.tracked);
            r.converge(&self.routes).await;
        }
    }

    /// Withdraws every route (the first step of a stop); returns whether any was announced.
    pub(super) async fn withdraw_anycast(&mut self) -> bool {
        let mut any = false;
        for r in &mut self.anycast {
            any |= r.installed.is_some();
            r.withdraw(&self.routes).await;
        }
        any
    }

    /// Stops delivering every prefix (the last step of a stop).
    pub(super) async fn stop_anycast(&mut self) {
        for r in std::mem::take(&mut self.anycast) {
            r.stop_local(&self.routes).await;
        }
    }
}
