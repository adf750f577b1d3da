//! The typed `vrrp_track_process` and `track_file` (`vrrp_track_file`) blocks, and the
//! `track_process { }` / `track_file { }` lines of instances and sync groups that name them.

use std::path::PathBuf;
use std::time::Duration;

use super::error::Span;

/// How a tracked process's parameters are compared (`param_match`, keepalived.conf(5) "VRRP
/// track processes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamMatch {
    /// Parameters are not looked at: no parameters and no `param_match`.
    None,
    /// The process has exactly the configured parameters (parameters given, or
    /// `param_match` alone: then no parameters at all).
    Exact,
    /// Its first parameters are the configured ones (`param_match partial`).
    Partial,
    /// Like partial, but its last configured parameter may go on longer (`param_match
    /// initial`).
    Initial,
}

/// `vrrp_track_process NAME { ... }`: how many processes of a kind must run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpTrackProcess {
    /// The block's name, as `track_process` refers to it.
    pub name: String,
    /// Where the block starts.
    pub span: Span,
    /// `process`: compared with the process name (`/proc/PID/comm`, at most 15 characters),
    /// or with the command (`argv[0]` of `/proc/PID/cmdline`) under `full_command`.
    pub process: String,
    /// The parameters after `process`; comparing them implies `full_command`.
    pub params: Vec<String>,
    /// How the parameters are compared.
    pub param_match: ParamMatch,
    /// `full_command` (also implied by parameters or `param_match`).
    pub full_command: bool,
    /// `weight` (default 0, -254..254): 0 means FAULT while the quorum is not met.
    pub weight: i32,
    /// `weight N reverse`: the adjustment is reversed (weight 0: FAULT while it is met).
    pub weight_reverse: bool,
    /// `quorum` (default 1): the fewest matching processes that are "up".
    pub quorum: u32,
    /// `quorum_max` (default unlimited): the most; 0 means "up" while none runs.
    pub quorum_max: u32,
    /// `fork_delay` (or `delay`): how long a quorum gained by a fork waits before counting.
    pub fork_delay: Duration,
    /// `terminate_delay` (or `delay`): how long a quorum lost by an exit waits before
    /// counting.
    pub terminate_delay: Duration,
}

impl VrrpTrackProcess {
    /// A block `name` written at `span` that tracks `process`, with keepalived's defaults
    /// for everything else (keepalived.conf(5): weight 0, quorum 1, no quorum_max, no
    /// delays, the process name compared).
    pub fn new(name: String, span: Span, process: String) -> VrrpTrackProcess {
        VrrpTrackProcess {
            name,
            span,
            process,
            params: Vec::new(),
            param_match: ParamMatch::None,
            full_command: false,
            weight: 0,
            weight_reverse: false,
            quorum: 1,
            quorum_max: u32::MAX,
            fork_delay: Duration::ZERO,
            terminate_delay: Duration::ZERO,
        }
    }

    /// Whether `count` matching processes meet the quorum.
    pub fn quorum_met(&self, count: u32) -> bool {
        (self.quorum..=self.quorum_max).contains(&count)
    }

    /// Equal in everything but where it was written.
    pub fn same_settings(&self, other: &VrrpTrackProcess) -> bool {
        let strip = |p: &VrrpTrackProcess| VrrpTrackProcess {
            span: Span::nowhere(),
            ..p.clone()
        };
        strip(self) == strip(other)
    }
}

/// `init_file [VALUE] [overwrite]` of a `track_file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InitFile {
    /// What is written (default 0).
    pub value: i64,
    /// Written over an existing file too, not only when there is none.
    pub overwrite: bool,
}

/// `track_file NAME { ... }` (`vrrp_track_file` is keepalived's older name): a file holding
/// a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpTrackFile {
    /// The block's name, as `track_file { }` lines refer to it.
    pub name: String,
    /// Where the block starts.
    pub span: Span,
    /// `file`.
    pub path: PathBuf,
    /// `weight` (default 1): the value times the weight moves the priority; 0 means FAULT
    /// while the value is not 0.
    pub weight: i32,
    /// `weight N reverse`: the value moves the priority the other way.
    pub weight_reverse: bool,
    /// `init_file`.
    pub init_file: Option<InitFile>,
}

impl VrrpTrackFile {
    /// Equal in everything but where it was written.
    pub fn same_settings(&self, other: &VrrpTrackFile) -> bool {
        let strip = |f: &VrrpTrackFile| VrrpTrackFile {
            span: Span::nowhere(),
            ..f.clone()
        };
        strip(self) == strip(other)
    }
}

/// One line of `track_process { }` or `track_file { }` in an instance or a sync group:
/// `NAME [weight W [reverse|noreverse]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRef {
    /// Name of a `vrrp_track_process` or `track_file` (checked to exist).
    pub name: String,
    /// `weight W`: overrides the block's weight here.
    pub weight: Option<i32>,
    /// `reverse` / `noreverse` after the weight; the block's setting when absent.
    pub weight_reverse: Option<bool>,
    /// Where it was written.
    pub span: Span,
}

impl TrackRef {
    /// The weight and reverse flag in force: this line's, else the block's.
    pub fn resolve(&self, weight: i32, reverse: bool) -> (i32, bool) {
        (
            self.weight.unwrap_or(weight),
            self.weight_reverse.unwrap_or(reverse),
        )
    }
}
