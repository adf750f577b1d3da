//! Counting the processes each `vrrp_track_process` matches, from a scan of `/proc` and then
//! from process events, and deciding when its quorum counts as gained or lost
//! (keepalived.conf(5), "VRRP track processes"). Sans-IO: the caller reads `/proc` and the
//! events and passes the time in.

use std::collections::{HashMap, VecDeque};

use crate::config::{ParamMatch, VrrpTrackProcess};
use crate::fsm::{Duration, Instant};

/// What a process is, for matching: its name (`/proc/PID/comm`, without the newline) and,
/// when some tracker compares command lines, `/proc/PID/cmdline` (NUL-separated).
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// The process name.
    pub comm: &'a [u8],
    /// The command line, if it was read.
    pub cmdline: Option<&'a [u8]>,
}

/// One `vrrp_track_process`'s test of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    process: Vec<u8>,
    /// The parameters, each followed by a NUL, as `/proc/PID/cmdline` has them.
    params: Vec<u8>,
    param_match: ParamMatch,
    full_command: bool,
}

impl Matcher {
    /// The test `cfg` describes.
    pub fn new(cfg: &VrrpTrackProcess) -> Matcher {
        let mut params = Vec::new();
        for p in &cfg.params {
            params.extend_from_slice(p.as_bytes());
            params.push(0);
        }
        Matcher {
            process: cfg.process.as_bytes().to_vec(),
            params,
            param_match: cfg.param_match,
            full_command: cfg.full_command,
        }
    }

    /// Whether it compares command lines (else process names).
    pub fn full_command(&self) -> bool {
        self.full_command
    }

    /// Whether `id` is a process this tracker counts: its name equals `process` exactly
    /// (keepalived: like `pgrep "^name$"`, not a pattern), or under `full_command` its
    /// `argv[0]` does and its parameters pass `param_match`. No command line: no match.
    pub fn matches(&self, id: &Identity<'_>) -> bool {
        if !self.full_command {
            return id.comm == self.process.as_slice();
        }
        let Some(cmdline) = id.cmdline else {
            return false;
        };
        let (argv0, rest) = match cmdline.iter().position(|b| *b == 0) {
            Some(nul) => (&cmdline[..nul], &cmdline[nul + 1..]),
            None => (cmdline, &[][..]),
        };
        argv0 == self.process.as_slice() && self.params_match(rest)
    }

    /// keepalived's parameter test on `rest`, the command line after `argv[0]`'s NUL.
    fn params_match(&self, rest: &[u8]) -> bool {
        let want = self.params.as_slice();
        match self.param_match {
            ParamMatch::None => true,
            ParamMatch::Exact => rest == want,
            ParamMatch::Partial => rest.starts_with(want),
            // The last parameter may go on: compare without its NUL.
            ParamMatch::Initial => rest.starts_with(want.strip_suffix(&[0]).unwrap_or(want)),
        }
    }
}

/// What moved the count, for the delays: a fork waits `fork_delay` before a gained quorum
/// counts and an exit `terminate_delay` before a lost one does; anything else counts at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Fork,
    Exit,
    Other,
}

/// One tracker's count and reported state.
#[derive(Debug, Clone)]
struct Quorum {
    min: u32,
    max: u32,
    fork_delay: Duration,
    terminate_delay: Duration,
    count: u32,
    /// The state last reported.
    up: bool,
    /// When a delayed change is due, if one waits.
    pending: Option<Instant>,
}

impl Quorum {
    fn met(&self) -> bool {
        (self.min..=self.max).contains(&self.count)
    }

    /// The count changed because of `cause`: the new state to report, if it changes now. A
    /// change back before a delay ran out cancels it, as keepalived cancels its timer.
    fn recount(&mut self, now: Instant, cause: Cause) -> Option<bool> {
        let want = self.met();
        if want == self.up {
            self.pending = None;
            return None;
        }
        let delay = match (want, cause) {
            (true, Cause::Fork) => self.fork_delay,
            (false, Cause::Exit) => self.terminate_delay,
            _ => Duration::ZERO,
        };
        if delay == Duration::ZERO {
            self.pending = None;
            self.up = want;
            return Some(want);
        }
        // A delay already running keeps its end.
        self.pending.get_or_insert(now + delay);
        None
    }

    /// The delay ran out at `now`: the state as it is then.
    fn expire(&mut self, now: Instant) -> Option<bool> {
        if self.pending.is_none_or(|at| at > now) {
            return None;
        }
        self.pending = None;
        let want = self.met();
        (want != self.up).then(|| {
            self.up = want;
            want
        })
    }
}

#[derive(Debug, Clone)]
struct Tracker {
    name: String,
    matcher: Matcher,
    quorum: Quorum,
}

/// A tracker's state: reported when it changes, and on request for all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumState {
    /// The `vrrp_track_process` name.
    pub name: String,
    /// Whether its quorum counts as met.
    pub up: bool,
    /// How many matching processes run now.
    pub count: u32,
}

/// Every tracker's matching processes by pid, their counts and states.
#[derive(Debug, Clone, Default)]
pub struct ProcessTable {
    trackers: Vec<Tracker>,
    /// pid (a process: the kernel's tgid) → the trackers counting it.
    pids: HashMap<u32, Vec<usize>>,
    changes: VecDeque<QuorumState>,
}

impl ProcessTable {
    /// A table for `cfgs`, no process counted yet (see [`ProcessTable::scan`]).
    pub fn new(cfgs: &[VrrpTrackProcess]) -> ProcessTable {
        let to_fsm = |d: std::time::Duration| {
            Duration::from_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        };
        let trackers = cfgs
            .iter()
            .map(|c| Tracker {
                name: c.name.clone(),
                matcher: Matcher::new(c),
                quorum: Quorum {
                    min: c.quorum,
                    max: c.quorum_max,
                    fork_delay: to_fsm(c.fork_delay),
                    terminate_delay: to_fsm(c.terminate_delay),
                    count: 0,
                    up: c.quorum_met(0),
                    pending: None,
                },
            })
            .collect();
        ProcessTable {
            trackers,
            ..ProcessTable::default()
        }
    }

    /// Whether there is nothing to track.
    pub fn is_empty(&self) -> bool {
        self.trackers.is_empty()
    }

    /// Whether some tracker compares process names: `/proc/PID/comm` is needed.
    pub fn wants_comm(&self) -> bool {
        self.trackers.iter().any(|t| !t.matcher.full_command())
    }

    /// Whether some tracker compares command lines: `/proc/PID/cmdline` is needed (keepalived
    /// reads it only then: it is in the process's memory, maybe swapped out).
    pub fn wants_cmdline(&self) -> bool {
        self.trackers.iter().any(|t| t.matcher.full_command())
    }

    /// Counts from scratch the running processes `procs` (a `/proc` scan: zombies left
    /// out). States are set as found, without delays, and not reported as changes: read
    /// them with [`ProcessTable::states`].
    pub fn scan<'a>(&mut self, procs: impl IntoIterator<Item = (u32, Identity<'a>)>) {
        self.pids.clear();
        self.changes.clear();
        for t in &mut self.trackers {
            t.quorum.count = 0;
            t.quorum.pending = None;
        }
        for (pid, id) in procs {
            let counting: Vec<usize> = (0..self.trackers.len())
                .filter(|&i| self.trackers[i].matcher.matches(&id))
                .collect();
            for &i in &counting {
                self.trackers[i].quorum.count += 1;
            }
            if !counting.is_empty() {
                self.pids.insert(pid, counting);
            }
        }
        for t in &mut self.trackers {
            t.quorum.up = t.quorum.met();
        }
    }

    /// [`ProcessTable::scan`] after events were lost: the trackers whose state differs from
    /// the one reported before are reported as changes.
    pub fn rescan<'a>(&mut self, procs: impl IntoIterator<Item = (u32, Identity<'a>)>) {
        let before: Vec<bool> = self.trackers.iter().map(|t| t.quorum.up).collect();
        self.scan(procs);
        for (t, was) in self.trackers.iter().zip(before) {
            if t.quorum.up != was {
                self.changes.push_back(QuorumState {
                    name: t.name.clone(),
                    up: t.quorum.up,
                    count: t.quorum.count,
                });
            }
        }
    }

    /// Process `pid` ran a new program, now `id`: it is counted by the trackers it matches
    /// and by no other.
    pub fn exec(&mut self, now: Instant, pid: u32, id: &Identity<'_>) {
        for i in 0..self.trackers.len() {
            let matches = self.trackers[i].matcher.matches(id);
            self.set_counted(now, pid, i, matches);
        }
    }

    /// Process `pid` is now named `comm`: trackers of process names count it or not
    /// (those of command lines are not concerned: its command line did not change).
    pub fn comm(&mut self, now: Instant, pid: u32, comm: &[u8]) {
        let id = Identity {
            comm,
            cmdline: None,
        };
        for i in 0..self.trackers.len() {
            if !self.trackers[i].matcher.full_command() {
                let matches = self.trackers[i].matcher.matches(&id);
                self.set_counted(now, pid, i, matches);
            }
        }
    }

    /// Process `parent` forked `child`: the child runs the same program, so every tracker
    /// counting the parent counts it too.
    pub fn fork(&mut self, now: Instant, parent: u32, child: u32) {
        let Some(counting) = self.pids.get(&parent).cloned() else {
            return;
        };
        for i in counting {
            if self.add(child, i) {
                self.recount(now, i, Cause::Fork);
            }
        }
    }

    /// Process `pid` ended.
    pub fn exit(&mut self, now: Instant, pid: u32) {
        let Some(counting) = self.pids.remove(&pid) else {
            return;
        };
        for i in counting {
            if let Some(t) = self.trackers.get_mut(i) {
                t.quorum.count = t.quorum.count.saturating_sub(1);
            }
            self.recount(now, i, Cause::Exit);
        }
    }

    /// Ends the delays that ran out by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for t in &mut self.trackers {
            if let Some(up) = t.quorum.expire(now) {
                self.changes.push_back(QuorumState {
                    name: t.name.clone(),
                    up,
                    count: t.quorum.count,
                });
            }
        }
    }

    /// When the first running delay ends, if one runs.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.trackers.iter().filter_map(|t| t.quorum.pending).min()
    }

    /// The next change of a tracker's state, oldest first.
    pub fn poll_change(&mut self) -> Option<QuorumState> {
        self.changes.pop_front()
    }

    /// Every tracker's state now.
    pub fn states(&self) -> Vec<QuorumState> {
        self.trackers
            .iter()
            .map(|t| QuorumState {
                name: t.name.clone(),
                up: t.quorum.up,
                count: t.quorum.count,
            })
            .collect()
    }

    /// Makes tracker `i` count `pid` or not, recounting on a change.
    fn set_counted(&mut self, now: Instant, pid: u32, i: usize, counted: bool) {
        let changed = if counted {
            self.add(pid, i)
        } else {
            self.remove(pid, i)
        };
        if changed {
            self.recount(now, i, Cause::Other);
        }
    }

    /// Tracker `i` counts `pid`; whether it did not before.
    fn add(&mut self, pid: u32, i: usize) -> bool {
        let counting = self.pids.entry(pid).or_default();
        if counting.contains(&i) {
            return false;
        }
        counting.push(i);
        if let Some(t) = self.trackers.get_mut(i) {
            t.quorum.count += 1;
        }
        true
    }

    /// Tracker `i` no longer counts `pid`; whether it did.
    fn remove(&mut self, pid: u32, i: usize) -> bool {
        let Some(counting) = self.pids.get_mut(&pid) else {
            return false;
        };
        let Some(at) = counting.iter().position(|&c| c == i) else {
            return false;
        };
        counting.swap_remove(at);
        if counting.is_empty() {
            self.pids.remove(&pid);
        }
        if let Some(t) = self.trackers.get_mut(i) {
            t.quorum.count = t.quorum.count.saturating_sub(1);
        }
        true
    }

    fn recount(&mut self, now: Instant, i: usize, cause: Cause) {
        let Some(t) = self.trackers.get_mut(i) else {
            return;
        };
        if let Some(up) = t.quorum.recount(now, cause) {
            self.changes.push_back(QuorumState {
                name: t.name.clone(),
                up,
                count: t.quorum.count,
            });
        }
    }
}

#[cfg(test)]
#[path = "process_tests.rs"]
mod tests;
