//! What the daemon knows of its tracked checks (scripts, processes, files), the reports
//! that change it, and the process and file monitors a configuration needs.

use std::collections::{BTreeSet, HashMap};

use tracing::info;

use crate::config::{Config, TrackRef, VrrpTrackFile, VrrpTrackProcess};
use crate::track::process::QuorumState;

use super::filemon::{FileMonitor, FileValue};
use super::plan::{TrackReading, TrackSource};
use super::procmon::ProcessMonitor;
use super::{link_running, Daemon, DriverError};

/// The last state of every tracked check that reports on its own (interfaces are read
/// when asked).
#[derive(Debug, Default)]
pub(super) struct TrackStates {
    /// `vrrp_script` name → whether it passes (once it has reported).
    pub(super) scripts: HashMap<String, bool>,
    /// `vrrp_track_process` name → whether its quorum is met.
    pub(super) processes: HashMap<String, bool>,
    /// `track_file` name → its value.
    pub(super) files: HashMap<String, i32>,
}

impl TrackStates {
    /// What is known of `src` now; `None` for a script that has not reported yet.
    pub(super) fn reading(&self, src: &TrackSource) -> Option<TrackReading> {
        match src {
            TrackSource::Script { name, reverse } => self
                .scripts
                .get(name)
                .map(|ok| TrackReading::Up(*ok != *reverse)),
            TrackSource::Interface { name } => Some(TrackReading::Up(link_running(name))),
            TrackSource::Process { name, reverse } => self
                .processes
                .get(name)
                .map(|up| TrackReading::Up(*up != *reverse)),
            TrackSource::File { name } => self.files.get(name).copied().map(TrackReading::Value),
        }
    }
}

/// The `vrrp_track_process` blocks some instance, sync group or `anycast_route` tracks
/// (keepalived forgets the others).
fn used_processes(config: &Config) -> Vec<VrrpTrackProcess> {
    let refs = config
        .instances
        .iter()
        .flat_map(|i| &i.track_processes)
        .chain(config.sync_groups.iter().flat_map(|g| &g.track_processes))
        .chain(
            config
                .anycast_routes
                .iter()
                .flat_map(|a| &a.track_processes),
        );
    used(&config.track_processes, |p| &p.name, refs)
}

/// The `track_file` blocks some instance, sync group or `anycast_route` tracks.
fn used_files(config: &Config) -> Vec<VrrpTrackFile> {
    let refs = config
        .instances
        .iter()
        .flat_map(|i| &i.track_files)
        .chain(config.sync_groups.iter().flat_map(|g| &g.track_files))
        .chain(config.anycast_routes.iter().flat_map(|a| &a.track_files));
    used(&config.track_files, |f| &f.name, refs)
}

/// The blocks among `blocks` that one of `refs` names.
fn used<'c, T: Clone>(
    blocks: &[T],
    name: impl Fn(&T) -> &String,
    refs: impl Iterator<Item = &'c TrackRef>,
) -> Vec<T> {
    let names: BTreeSet<&str> = refs.map(|t| t.name.as_str()).collect();
    blocks
        .iter()
        .filter(|b| names.contains(name(b).as_str()))
        .cloned()
        .collect()
}

impl Daemon {
    /// Makes the process and file monitors follow `config`, and learns every tracked
    /// process's and file's state before any instance uses it. What can fail is tried first
    /// (subscribing to process events; the files' directories), so that a refused
    /// configuration leaves the monitors as they were.
    pub(super) async fn sync_tracking(&mut self, config: &Config) -> Result<(), DriverError> {
        let processes = used_processes(config);
        let files = used_files(config);
        if !processes.is_empty() && self.process_monitor.is_none() {
            let netns = &self.options.proc_events_netns;
            let monitor = ProcessMonitor::start(self.process_tx.clone(), netns)?;
            self.process_monitor = Some(monitor);
        }
        for f in &files {
            super::filemon::check_directory(f)?;
        }
        if files.is_empty() {
            self.file_monitor = None;
            self.tracked.files.clear();
        } else {
            let file_tx = self.file_tx.clone();
            let monitor = self
                .file_monitor
                .get_or_insert_with(|| FileMonitor::start(file_tx));
            let values = monitor.configure(files).await?;
            self.tracked.files = values.into_iter().map(|v| (v.name, v.value)).collect();
            for (name, value) in &self.tracked.files {
                info!(track_file = %name, value, "tracked file read");
            }
        }
        if processes.is_empty() {
            self.process_monitor = None;
            self.tracked.processes.clear();
        } else if let Some(monitor) = &self.process_monitor {
            let states = monitor
                .configure(processes)
                .await
                .ok_or(DriverError::TrackingStopped("vrrp_track_process"))?;
            self.tracked.processes.clear();
            for s in states {
                info!(track_process = %s.name, running = s.count, quorum = s.up,
                      "tracked process counted");
                self.tracked.processes.insert(s.name, s.up);
            }
        }
        Ok(())
    }

    /// A tracked process gained or lost its quorum: every instance tracking it hears of it.
    pub(super) async fn on_process(&mut self, s: QuorumState) {
        let now = self.now();
        self.tracked.processes.insert(s.name.clone(), s.up);
        let what = if s.up { "gained" } else { "lost" };
        for r in &mut self.instances {
            if !r
                .inst
                .plan
                .tracks
                .iter()
                .any(|src| matches!(src, TrackSource::Process { name, .. } if *name == s.name))
            {
                continue;
            }
            info!(instance = %r.inst.name(), track_process = %s.name, running = s.count,
                  "quorum {what} for tracked process {}", s.name);
            r.inst.update_tracks(now, |src| match src {
                TrackSource::Process { name, reverse } if *name == s.name => {
                    Some(TrackReading::Up(s.up != *reverse))
                }
                _ => None,
            });
        }
        self.run_all_actions().await;
        self.sync_anycast().await;
    }

    /// A tracked file has a new value: every instance tracking it hears of it.
    pub(super) async fn on_file(&mut self, v: FileValue) {
        let now = self.now();
        self.tracked.files.insert(v.name.clone(), v.value);
        for r in &mut self.instances {
            if !r
                .inst
                .plan
                .tracks
                .iter()
                .any(|src| matches!(src, TrackSource::File { name } if *name == v.name))
            {
                continue;
            }
            info!(instance = %r.inst.name(), track_file = %v.name, value = v.value,
                  "tracked file {} now reads {}", v.name, v.value);
            r.inst.update_tracks(now, |src| match src {
                TrackSource::File { name } if *name == v.name => Some(TrackReading::Value(v.value)),
                _ => None,
            });
        }
        self.run_all_actions().await;
        self.sync_anycast().await;
    }

    /// Every running instance told what is known of its tracks now (after a reload counted
    /// processes and read files again).
    pub(super) fn refresh_tracks(&mut self) {
        let now = self.now();
        for r in &mut self.instances {
            r.inst.update_tracks(now, |src| self.tracked.reading(src));
        }
    }
}
