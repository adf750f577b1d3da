//! Running a check script: timeout, process-group kill, reaping, optional uid/gid.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::HealthError;

/// A script check: an argv run without a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptCheck {
    /// The program and its arguments (`argv[0]` is looked up in `PATH`).
    pub argv: Vec<String>,
    /// Run as this user id (needs privileges).
    pub uid: Option<u32>,
    /// Run as this group id (needs privileges).
    pub gid: Option<u32>,
}

/// How a script run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptOutcome {
    /// The script exited with this code (0 is success).
    Exited(i32),
    /// The script was killed by this signal (not by us).
    Signaled(i32),
    /// The timeout expired; the script's process group was killed with SIGKILL and reaped.
    TimedOut,
}

/// Kills a process group when dropped, unless disarmed: covers both the timeout and the
/// caller dropping our future (e.g. an aborted check task), so no script outlives its check.
struct GroupGuard {
    pgid: Option<i32>,
}

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // The process group we created for the child (pgid = child pid > 1); it may be
            // gone already, which is fine.
            if pgid > 1 {
                let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            }
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `argv` (no shell), waits at most `timeout`, and reports how it ended.
///
/// The child gets its own process group, stdin/stdout/stderr on `/dev/null`, and optionally
/// runs as `uid`/`gid`. On timeout the whole group (the script and anything it spawned) is
/// killed with SIGKILL and the child is reaped before returning, so no zombie is left.
///
/// ```no_run
/// # async fn demo() -> Result<(), health::HealthError> {
/// use std::time::Duration;
/// let argv = vec!["/bin/true".to_string()];
/// let out = health::run_script(&argv, Duration::from_secs(1), None, None).await?;
/// assert_eq!(out, health::ScriptOutcome::Exited(0));
/// # Ok(()) }
/// ```
pub async fn run_script(
    argv: &[String],
    timeout: Duration,
    uid: Option<u32>,
    gid: Option<u32>,
) -> Result<ScriptOutcome, HealthError> {
    let (program, args) = argv.split_first().ok_or(HealthError::EmptyCommand)?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(gid) = gid {
        cmd.gid(gid);
    }
    if let Some(uid) = uid {
        cmd.uid(uid);
    }
    let mut child = cmd.spawn().map_err(|source| HealthError::Spawn {
        program: program.clone(),
        source,
    })?;
    let mut guard = GroupGuard {
        pgid: child.id().and_then(|p| i32::try_from(p).ok()),
    };
    let wait_err = |source| HealthError::Wait {
        program: program.clone(),
        source,
    };
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => {
            // Exited by itself: leave any background children it started alone, as
            // keepalived does.
            guard.pgid = None;
            let status = status.map_err(wait_err)?;
            use std::os::unix::process::ExitStatusExt;
            Ok(match (status.code(), status.signal()) {
                (Some(c), _) => ScriptOutcome::Exited(c),
                (None, Some(s)) => ScriptOutcome::Signaled(s),
                (None, None) => ScriptOutcome::Exited(-1),
            })
        }
        Err(_) => {
            guard.kill();
            // Reap: the group was SIGKILLed, so this returns promptly.
            child.wait().await.map_err(wait_err)?;
            Ok(ScriptOutcome::TimedOut)
        }
    }
}
