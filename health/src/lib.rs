//! Health checks shared by `lbproxy` (backend server checks) and `vrrpd` (VRRP track scripts).
//!
//! One model for both daemons: a [`Check`] is a [`CheckKind`] (TCP connect, HTTP request,
//! or a script run as a child process) plus [`Timing`] (HAProxy's `inter`, `fastinter`,
//! `downinter`, a per-check `timeout`, and `rise`/`fall` thresholds). [`spawn`] runs the
//! check forever in a tokio task and publishes [`HealthState`] through a
//! [`tokio::sync::watch`] channel; receivers are woken **only on up/down transitions**, so a
//! consumer can `changed().await` in a loop and log each transition. A consumer on a hot path
//! (the proxy's balancer) copies `state.up` into an atomic and never locks.
//!
//! The pieces can also be used alone:
//! - [`Tracker`] is the sans-IO rise/fall state machine (feed it results, it says when the
//!   state flips and how long to wait before the next check);
//! - [`run_once`] performs one check and returns a [`CheckResult`] in HAProxy's vocabulary;
//! - [`run_script`] runs an argv with a timeout, optionally as another uid/gid, kills the
//!   whole process group on timeout and always reaps the child.
//!
//! Both daemons also share their logs' framing: [`syslog`] writes RFC 3164 lines (vrrpd's
//! log writer, lbproxy's log targets), the one crate both depend on.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use health::{Check, CheckKind, ScriptCheck, Timing};
//!
//! # async fn demo() {
//! // A keepalived-style track script: `vrrp_script { script "/usr/bin/pidof haproxy"
//! // interval 2 timeout 1 rise 2 fall 3 }`.
//! let check = Check {
//!     kind: CheckKind::Script(ScriptCheck {
//!         argv: vec!["/usr/bin/pidof".into(), "haproxy".into()],
//!         uid: None,
//!         gid: None,
//!     }),
//!     timing: Timing {
//!         timeout: Duration::from_secs(1),
//!         rise: 2,
//!         fall: 3,
//!         ..Timing::every(Duration::from_secs(2))
//!     },
//! };
//! let handle = health::spawn(check, true);
//! let mut rx = handle.subscribe();
//! while rx.changed().await.is_ok() {
//!     let state = rx.borrow_and_update().clone();
//!     println!("track script is now {}", if state.up { "UP" } else { "DOWN" });
//! }
//! # }
//! ```

mod probe;
mod script;
pub mod syslog;
mod tracker;

use std::sync::Arc;
use std::time::Duration;

pub use probe::{run_once, CheckIo, CheckResult, CheckStatus, HttpCheck, Layer, Wrap, Wrapped};
pub use script::{run_script, ScriptCheck, ScriptOutcome};
pub use tracker::{Tracker, Transition};

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Errors of the health crate (only the script runner can fail before producing a result).
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The argv was empty.
    #[error("empty command")]
    EmptyCommand,
    /// The command could not be started (not found, permission denied, bad uid...).
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program (argv\[0\]).
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Waiting for the child failed.
    #[error("waiting for {program}: {source}")]
    Wait {
        /// The program (argv\[0\]).
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// Success when a TCP connection to the address is established within the timeout.
    Tcp {
        /// The address to connect to.
        addr: std::net::SocketAddr,
    },
    /// Success when a TCP connection is established and wrapped in a layer (a TLS
    /// handshake for HAProxy's `check-ssl`) within the timeout.
    Layered {
        /// The address to connect to.
        addr: std::net::SocketAddr,
        /// The layer.
        layer: Layer,
    },
    /// Success when an HTTP request gets the expected status within the timeout.
    Http(HttpCheck),
    /// Success when the command exits with status 0 within the timeout.
    Script(ScriptCheck),
}

/// When to check, and how many results flip the state.
///
/// Intervals follow HAProxy: `inter` while the state is stable UP, `fastinter` while a
/// transition is in progress (UP with some failures, or DOWN with some successes), and
/// `downinter` while stable DOWN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Interval while UP and stable.
    pub inter: Duration,
    /// Interval while a transition is in progress.
    pub fastinter: Duration,
    /// Interval while DOWN and stable.
    pub downinter: Duration,
    /// Time limit of one check (connect + exchange, or script run).
    pub timeout: Duration,
    /// Consecutive successes that bring a DOWN check UP.
    pub rise: u32,
    /// Consecutive failures that bring an UP check DOWN.
    pub fall: u32,
}

impl Timing {
    /// HAProxy's defaults around one interval: `fastinter = downinter = inter`,
    /// `timeout = inter`, `rise 2`, `fall 3`.
    pub fn every(inter: Duration) -> Timing {
        Timing {
            inter,
            fastinter: inter,
            downinter: inter,
            timeout: inter,
            rise: 2,
            fall: 3,
        }
    }
}

impl Default for Timing {
    /// HAProxy's defaults: `inter 2s rise 2 fall 3`.
    fn default() -> Self {
        Timing::every(Duration::from_secs(2))
    }
}

/// A complete check: what and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What to check.
    pub kind: CheckKind,
    /// When to check and the rise/fall thresholds.
    pub timing: Timing,
}

/// The published state of a running check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthState {
    /// Whether the checked thing is considered UP.
    pub up: bool,
    /// The check result that caused the last transition (`None` before the first one).
    pub reason: Option<CheckResult>,
    /// Number of transitions so far.
    pub transitions: u64,
    /// The latest check result and when it finished: updated after every check, without
    /// waking subscribers (they are woken on transitions only), for status pages.
    pub last: Option<(CheckResult, std::time::SystemTime)>,
    /// HAProxy's check health: `rise + fall - 1` when fully UP, counting down with each
    /// failure; 0 when fully DOWN, counting up with each success.
    pub health: u32,
    /// Checks that failed while UP (HAProxy's `chkfail`).
    pub failed_while_up: u64,
    /// UP to DOWN transitions (HAProxy's `chkdown`).
    pub downs: u64,
}

/// A running check. Dropping the handle stops the check task (and kills a running script's
/// process group).
#[derive(Debug)]
pub struct CheckHandle {
    rx: watch::Receiver<HealthState>,
    task: JoinHandle<()>,
}

impl CheckHandle {
    /// A new receiver of the state; it is notified on each UP/DOWN transition only.
    pub fn subscribe(&self) -> watch::Receiver<HealthState> {
        self.rx.clone()
    }

    /// The current state.
    pub fn state(&self) -> HealthState {
        self.rx.borrow().clone()
    }

    /// Stops the check.
    pub fn abort(&self) {
        self.task.abort();
    }
}

impl Drop for CheckHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts running `check` in a tokio task, the first check immediately.
///
/// `initially_up` is the state before any result: HAProxy starts servers UP at the edge,
/// its health at `rise`, so the first failed check takes a dead server down (its default
/// `init-state up`); keepalived starts track scripts in a failed state until `rise`
/// successes. Must be called within a tokio runtime.
pub fn spawn(check: Check, initially_up: bool) -> CheckHandle {
    let tracker = if initially_up {
        Tracker::up_at_rise(check.timing)
    } else {
        Tracker::new(check.timing, false)
    };
    let (tx, rx) = watch::channel(HealthState {
        up: initially_up,
        reason: None,
        transitions: 0,
        last: None,
        health: tracker.health(),
        failed_while_up: 0,
        downs: 0,
    });
    let check = Arc::new(check);
    let task = tokio::spawn(async move {
        let mut tracker = tracker;
        loop {
            let result = run_once(&check.kind, check.timing.timeout).await;
            let was_up = tracker.is_up();
            let ok = result.status.is_ok();
            let transition = tracker.record(ok);
            tx.send_if_modified(|s| {
                if let Some(t) = transition {
                    s.up = t == Transition::Up;
                    s.reason = Some(result.clone());
                    s.transitions += 1;
                    s.downs += u64::from(t == Transition::Down);
                }
                s.failed_while_up += u64::from(was_up && !ok);
                s.health = tracker.health();
                s.last = Some((result, std::time::SystemTime::now()));
                transition.is_some()
            });
            if tx.is_closed() {
                // Nobody listens any more (the handle keeps a receiver, so this means the
                // handle and all subscribers are gone).
                return;
            }
            tokio::time::sleep(tracker.next_interval()).await;
        }
    });
    CheckHandle { rx, task }
}
