//! Track scripts and notify scripts, run through the `health` crate with keepalived's
//! rules: `script_user`, `enable_script_security`, timeouts, no zombies.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use health::{run_script, ScriptOutcome, Timing, Tracker};
use nix::unistd::{Group, User};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::config::{GlobalDefs, ScriptUser, VrrpScript};

use super::DriverError;

/// The user and group scripts run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// keepalived's default script user.
pub const DEFAULT_SCRIPT_USER: &str = "keepalived_script";

/// How scripts are run, from `global_defs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptPolicy {
    /// Default user (None: as ourselves, root).
    pub default_user: Option<RunAs>,
    /// `enable_script_security`.
    pub security: bool,
}

fn resolve(user: &ScriptUser) -> Result<RunAs, String> {
    let u = User::from_name(&user.user)
        .map_err(|e| format!("looking up user {}: {e}", user.user))?
        .ok_or_else(|| format!("user '{}' does not exist", user.user))?;
    let gid = match &user.group {
        Some(g) => Group::from_name(g)
            .map_err(|e| format!("looking up group {g}: {e}"))?
            .ok_or_else(|| format!("group '{g}' does not exist"))?
            .gid
            .as_raw(),
        None => u.gid.as_raw(),
    };
    Ok(RunAs {
        uid: u.uid.as_raw(),
        gid,
    })
}

impl ScriptPolicy {
    /// [`ScriptPolicy::from_global`] for a whole configuration: it has scripts to run when
    /// it has a `vrrp_script` or any notify script (of an instance or a sync group).
    pub fn from_config(config: &crate::config::Config) -> Result<ScriptPolicy, DriverError> {
        fn any(n: &crate::config::Notify) -> bool {
            n.master.is_some()
                || n.backup.is_some()
                || n.fault.is_some()
                || n.stop.is_some()
                || n.any.is_some()
        }
        let any_scripts = !config.scripts.is_empty()
            || config.instances.iter().any(|i| any(&i.notify))
            || config.sync_groups.iter().any(|g| any(&g.notify));
        ScriptPolicy::from_global(&config.global, any_scripts)
    }

    /// Resolves the policy. Like keepalived, the default user is `script_user`, else
    /// `keepalived_script` when that user exists, else root with a warning.
    pub fn from_global(
        global: &GlobalDefs,
        any_scripts: bool,
    ) -> Result<ScriptPolicy, DriverError> {
        let default_user = match &global.script_user {
            Some(user) => Some(resolve(user).map_err(DriverError::Scripts)?),
            None => match User::from_name(DEFAULT_SCRIPT_USER) {
                Ok(Some(u)) => Some(RunAs {
                    uid: u.uid.as_raw(),
                    gid: u.gid.as_raw(),
                }),
                _ => {
                    if any_scripts {
                        warn!(
                            "default script user '{DEFAULT_SCRIPT_USER}' does not exist: scripts \
                             run as root; create the user or set script_user in global_defs"
                        );
                    }
                    None
                }
            },
        };
        Ok(ScriptPolicy {
            default_user,
            security: global.enable_script_security,
        })
    }

    /// The user a script with an optional `user` override runs as.
    pub fn run_as(&self, user: Option<&ScriptUser>) -> Result<Option<RunAs>, String> {
        match user {
            Some(u) => resolve(u).map(Some),
            None => Ok(self.default_user),
        }
    }

    /// With `enable_script_security`, refuses a script that a non-root user could change:
    /// the file or a directory above it writable by a non-root owner, by a non-root group,
    /// or by everyone (a sticky directory excepted, as for /tmp).
    pub fn check_secure(&self, program: &str) -> Result<(), String> {
        if !self.security {
            return Ok(());
        }
        let path = find_program(program).ok_or_else(|| format!("{program}: not found"))?;
        let mut at: Option<&Path> = Some(&path);
        while let Some(p) = at {
            let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let mode = meta.mode();
            let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
            let insecure = (meta.uid() != 0 && mode & 0o200 != 0)
                || (meta.gid() != 0 && mode & 0o020 != 0)
                || (mode & 0o002 != 0 && !sticky_dir);
            if insecure {
                return Err(format!(
                    "{} is writable by a non-root user (mode {:o}, owner {})",
                    p.display(),
                    mode & 0o7777,
                    meta.uid()
                ));
            }
            at = p.parent();
        }
        Ok(())
    }
}

/// Resolves a program name through PATH, as exec would.
fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// A result of a track script, sent to the daemon loop on transitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptReport {
    /// The `vrrp_script` name.
    pub name: String,
    /// Whether it now passes.
    pub ok: bool,
}

/// Runs `script` every `interval` with rise/fall, reporting transitions (and the initial
/// state once known) on `tx`. Ends when `tx` closes.
pub async fn track_script(
    script: VrrpScript,
    policy: ScriptPolicy,
    tx: mpsc::Sender<ScriptReport>,
) {
    let name = script.name.clone();
    let program = script.command.first().cloned().unwrap_or_default();
    if let Err(why) = policy.check_secure(&program) {
        error!(script = %name, "SECURITY VIOLATION - refusing to run script: {why}");
        let _ = tx.send(ScriptReport { name, ok: false }).await;
        return;
    }
    let run_as = match policy.run_as(script.user.as_ref()) {
        Ok(r) => r,
        Err(why) => {
            error!(script = %name, "cannot run script: {why}");
            let _ = tx.send(ScriptReport { name, ok: false }).await;
            return;
        }
    };
    let timing = Timing {
        inter: script.interval,
        fastinter: script.interval,
        downinter: script.interval,
        timeout: script.timeout,
        rise: script.rise.max(1),
        fall: script.fall.max(1),
    };
    let mut tracker = Tracker::new(timing, !script.init_fail);
    let mut ticker = tokio::time::interval(script.interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let outcome = run_script(
            &script.command,
            script.timeout,
            run_as.map(|r| r.uid),
            run_as.map(|r| r.gid),
        )
        .await;
        let ok = matches!(outcome, Ok(ScriptOutcome::Exited(0)));
        match &outcome {
            Ok(ScriptOutcome::TimedOut) => {
                warn!(script = %name, "timed out after {:?}", script.timeout)
            }
            Err(e) => warn!(script = %name, "{e}"),
            _ => {}
        }
        if let Some(t) = tracker.record(ok) {
            info!(script = %name, "VRRP_Script({name}) {}", if tracker.is_up() { "succeeded" } else { "failed" });
            debug!(script = %name, ?t, "transition");
            if tx
                .send(ScriptReport {
                    name: name.clone(),
                    ok: tracker.is_up(),
                })
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// Runs a notify command in the background, with the run-as user and a timeout so that a
/// hung script is killed rather than left behind. Returns its task, for shutdown to await.
pub fn notify(argv: Vec<String>, policy: &ScriptPolicy, what: String) -> Option<JoinHandle<()>> {
    let program = argv.first().cloned()?;
    if let Err(why) = policy.check_secure(&program) {
        error!("SECURITY VIOLATION - refusing to run {what} notify script: {why}");
        return None;
    }
    let run_as = policy.default_user;
    Some(tokio::spawn(async move {
        match run_script(
            &argv,
            Duration::from_secs(60),
            run_as.map(|r| r.uid),
            run_as.map(|r| r.gid),
        )
        .await
        {
            Ok(ScriptOutcome::Exited(0)) => debug!("{what} notify {program} done"),
            Ok(other) => warn!("{what} notify {program}: {other:?}"),
            Err(e) => warn!("{what} notify {program}: {e}"),
        }
    }))
}
